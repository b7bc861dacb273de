/** The browser viewer: its server, the case list it serves and the slice ranking the page shows. */
export { startViewServer, resolveUnder, VIEW_HOST, type ViewServer, type ViewServerOptions } from './server.js';
export { browserPredictOptions, listViewCases, type BrowserPredictOptions, type ServedFile, type SliceDice, type ViewCase, type ViewCasesOptions, type ViewRootName } from './cases.js';
export { CLASS_COLORS } from './colors.js';
export type { ViewPageHooks } from './page-hooks.js';
export { DEFAULT_FLAG_QUANTILE, rankSlices, type RankedCaseInput, type RankedSlice, type SliceRanking } from './ranking.js';
