export * from './volume.js';
export * from './nifti.js';
export * from './labels.js';
export * from './datasets.js';
export * from './splits.js';
export * from './phantom/index.js';
