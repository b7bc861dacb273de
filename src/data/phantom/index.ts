/** Synthetic cardiac short-axis phantom: the embedded default data for the demo and fast tests. */
export { Tissue, TISSUE_COUNT, TISSUE_LABEL, TISSUE_PROPERTIES, MATERIALS, bssfpSignal } from './tissues.js';
export type { TissueProperties } from './tissues.js';
export { sampleAnatomy, rasterizeSlice, lvRadii } from './anatomy.js';
export type { CaseAnatomy, AnatomyOptions, Phase, Morphology, RadialShape } from './anatomy.js';
export { gaussianBlur2d, sampleBiasField, applyBiasField, addRicianNoise } from './degrade.js';
export type { BiasField } from './degrade.js';
export { generatePhantomCase, validatePhantomOptions, PHANTOM_CONTRASTS, PHANTOM_PHASES } from './generate.js';
export type { PhantomCase, PhantomCaseOptions, PhantomContrast, PhantomAcquisition } from './generate.js';
export { writePhantomDataset, PHANTOM_GENERATOR_VERSION } from './dataset.js';
export type { PhantomDatasetOptions, PhantomDatasetSummary, PhantomDatasetCase } from './dataset.js';
