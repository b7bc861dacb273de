export { Module, type ParameterInit, type ParameterDecl, type BufferDecl, type ModuleOptions } from './module.js';
export {
  UNet,
  UNET_DEFAULTS,
  unetForwardGflop,
  unetBlocks,
  dropoutMaskShape,
  type UNetBlock,
  type UNetConfig,
  type NormKind,
  type DropoutPlacement,
} from './unet.js';
export {
  marginalCrossEntropy,
  softDiceLoss,
  segmentationLoss,
  type DiceOptions,
  type SegmentationLossOptions,
  type ShardOf,
} from './loss.js';
