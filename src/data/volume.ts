/** Voxel arrays as stored in NIfTI files (after reading, images are float32 with scaling applied). */
export type VoxelArray = Uint8Array | Int16Array | Uint16Array | Int32Array | Float32Array | Float64Array;

/**
 * A 3-D volume in NIfTI voxel order: x fastest, then y, then z (`data[x + nx*(y + ny*z)]`).
 * Cardiac short-axis stacks are 2-D slices along z.
 */
export interface Volume<T extends VoxelArray = VoxelArray> {
  /** [nx, ny, nz]. A 2-D image has nz = 1. */
  readonly dims: readonly [number, number, number];
  /** Voxel size [dx, dy, dz] in mm, from pixdim (1.0 where the file did not keep spacing). */
  readonly spacing: readonly [number, number, number];
  /** Voxel-to-world affine, 4×4 row-major (16 numbers), as a viewer would compute it. */
  readonly affine: readonly number[];
  readonly data: T;
  /** The header this volume was read from, so that a file written for it overlays it exactly. */
  readonly header?: NiftiHeader;
}

/** The geometric fields of a NIfTI header that must survive a read→write round trip. */
export interface NiftiHeader {
  readonly version: 1 | 2;
  readonly dim: readonly number[];
  readonly pixdim: readonly number[];
  readonly datatype: number;
  readonly sclSlope: number;
  readonly sclInter: number;
  readonly qformCode: number;
  readonly sformCode: number;
  /** quatern_b, quatern_c, quatern_d, qoffset_x, qoffset_y, qoffset_z */
  readonly quatern: readonly number[];
  /** srow_x, srow_y, srow_z (12 numbers) */
  readonly srow: readonly number[];
  readonly xyztUnits: number;
  readonly descrip: string;
}
