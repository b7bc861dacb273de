/**
 * The experiment: trains every method, evaluates each in and out of domain, runs the studies, and
 * saves the results for the report ({@link runExperiment}); the presets it runs.
 */
export { runExperiment, type ExperimentOptions } from './protocol.js';
export { InterruptedError } from './context.js';
export type { DomainSpec, ExperimentResults, ResultRow, StudyPoint } from './results.js';
export { PRESETS, STUDIES, type Preset, type StudyName } from './presets.js';
export { decodeExampleArray, type ExampleSlice } from './examples.js';
