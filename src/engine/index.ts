export * from './tensor.js';
export * from './functional.js';
export * from './autograd.js';
export * from './runtime.js';
export * from './device.js';
export * from './distributed.js';
export * from './flat.js';
export { DTYPES } from './binding.js';
export * from './weights.js';
