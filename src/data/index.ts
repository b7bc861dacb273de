export * from './volume.js';
export * from './nifti.js';
