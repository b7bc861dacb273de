/** What the viewer page exposes as `window.hmcsegView`, for the browser tests (test/view-browser.test.ts). */
export interface ViewPageHooks {
  /** The first case is shown. */
  ready: boolean;
  /** Errors shown on the page, oldest first. */
  errors: string[];
  /** The last in-browser segmentation: labels on the input grid, slice scores, seconds taken. */
  inference: { name: string; segmentation: number[]; scores: number[]; seconds: number } | null;
  /** Shows case `name` at slice `z`, as a click on its row does. */
  showCase(name: string, z: number): Promise<void>;
  /** The rendered RGBA at the centre of voxel (x, y, z) of the shown case (z must be the shown slice). */
  probe(x: number, y: number, z: number): number[] | null;
}
