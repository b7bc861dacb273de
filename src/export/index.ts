export * from './export.js';
export { GraphBuilder, ONNX_OPSET, readOnnxMetadata, type Attribute, type Dim } from './onnx-graph.js';
export { addPosteriorGraph, type Branch, type PosteriorGraph, type WeightSample } from './unet-onnx.js';
export {
  METADATA_KEYS,
  predictWithExport,
  readExportInfo,
  recipeOptions,
  type ExportInfo,
  type ExportPredictOptions,
  type ExportRun,
  type PreprocessRecipe,
} from './recipe.js';
