/** The viewer's segmentation colours (RGB, 0..255) per project class; background is transparent. */
export const CLASS_COLORS: Readonly<Record<'LV' | 'MYO' | 'RV', readonly [number, number, number]>> = {
  LV: [230, 57, 70],
  MYO: [42, 157, 143],
  RV: [69, 123, 230],
};
