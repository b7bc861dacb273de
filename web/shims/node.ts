/**
 * Stand-ins for the node: built-ins that the project's modules import for their file I/O
 * (`readNifti`, `writeNifti`, `writeFileAtomic`). The page only calls their pure parts
 * (`safeDecodeNifti`, `encodeNifti`, …), so these are never reached; if one is, it says so.
 */
function unavailable(name: string): never {
  throw new Error(`${name} is not available in the browser`);
}
export const readFileSync = (): never => unavailable('fs.readFileSync');
export const closeSync = (): never => unavailable('fs.closeSync');
export const fsyncSync = (): never => unavailable('fs.fsyncSync');
export const openSync = (): never => unavailable('fs.openSync');
export const renameSync = (): never => unavailable('fs.renameSync');
export const writeSync = (): never => unavailable('fs.writeSync');
export const mkdirSync = (): never => unavailable('fs.mkdirSync');
export const unlinkSync = (): never => unavailable('fs.unlinkSync');
export const appendFileSync = (): never => unavailable('fs.appendFileSync');
export const readdirSync = (): never => unavailable('fs.readdirSync');
export const rmSync = (): never => unavailable('fs.rmSync');
export const gunzipSync = (): never => unavailable('zlib.gunzipSync (the page gunzips with DecompressionStream first)');
export const gzipSync = (): never => unavailable('zlib.gzipSync');
export const dirname = (): never => unavailable('path.dirname');
export const basename = (): never => unavailable('path.basename');
export const join = (): never => unavailable('path.join');
