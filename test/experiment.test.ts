// The experiment's plumbing on the demo preset with a few steps: every method trained, evaluated
// on every domain, the samples study run, results and the report written; an interrupted run
// continues where it stopped, and a rerun of a finished one does nothing again.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METHODS } from '../src/bayes/methods.js';
import { InterruptedError, runExperiment, type ExperimentOptions, type ExperimentResults } from '../src/experiment/index.js';
import { writeReport } from '../src/report/index.js';

let root: string;
const quick = (out: string, extra: Partial<ExperimentOptions> = {}): ExperimentOptions => ({
  preset: 'demo',
  out,
  steps: 6,
  studies: ['samples'],
  config: { data: { workers: 0 }, ensemble: { members: 2 }, hmc: { cycles: 3, samplesPerCycle: 1, beta: 1 } },
  ...extra,
});

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hmcseg-experiment-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('experiment (demo preset, 6 steps)', () => {
  let results: ExperimentResults;
  const out = () => join(root, 'run');

  it('stops with InterruptedError when asked, keeping what is complete', async () => {
    const controller = new AbortController();
    const first = runExperiment(
      quick(out(), { signal: controller.signal, onTrainProgress: (label) => label === 'mcdropout' && controller.abort() }),
    );
    await expect(first).rejects.toBeInstanceOf(InterruptedError);
    expect(existsSync(join(out(), 'models', 'deterministic', 'manifest.json'))).toBe(true);
    expect(existsSync(join(out(), 'results.json'))).toBe(false);
  }, 60_000);

  it('the rerun continues: trains every method, evaluates it on every domain, runs the samples study', async () => {
    const log: string[] = [];
    results = await runExperiment(quick(out(), { log: (m) => log.push(m) }));
    expect(log).not.toContain('train: deterministic');
    expect(log).toContain('train: mcdropout');
    expect(results.domains.map((d) => d.name)).toEqual(['in-domain', 'phantom-ssfp', 'phantom-t1map', 'phantom-t2map']);
    // Every method and the preset's variant (HMC-CP with the library's default cycle layout).
    expect(results.rows).toHaveLength((METHODS.length + 1) * 4);
    for (const row of results.rows) {
      expect(row.summary.cases).toBeGreaterThan(0);
      expect(row.predictMsPerSlice).toBeGreaterThan(0);
    }
    const hmc = results.rows.find((r) => r.method === 'hmc' && r.domain === 'in-domain');
    expect(hmc?.samples).toBe(3);
    // The default layout: one cycle of 6 steps, one sample at its end.
    expect(results.rows.find((r) => r.method === 'hmc-default-layout' && r.domain === 'in-domain')?.samples).toBe(1);
    const ens = results.rows.find((r) => r.method === 'ensemble' && r.domain === 'in-domain');
    expect(ens?.samples).toBe(2);
    expect(results.studies.filter((p) => p.study === 'samples').map((p) => [p.method, p.setting.samples])).toEqual([
      ['hmc', 1],
      ['hmc', 2],
      ['hmc', 3],
      ['ensemble', 1],
      ['ensemble', 2],
    ]);
    expect(results.config.optim.steps).toBe(6);
    // The warning score of each method is chosen on the validation split, and every row uses it.
    for (const { method, warningScore } of results.rows) {
      const choice = results.warningScores[method];
      expect(choice.evaluation).toBe(`evaluations/${method}__validation.json`);
      expect(existsSync(join(out(), choice.evaluation!))).toBe(true);
      expect(warningScore).toBe(choice.score);
    }
    // One network (one pass) has no disagreement score to choose; the ensemble has.
    expect(results.warningScores.deterministic.candidates.map((c) => c.score)).not.toContain('pairwiseDice');
    const ensembleVal = JSON.parse(readFileSync(join(out(), 'evaluations', 'ensemble__validation.json'), 'utf8'));
    expect(Object.keys(ensembleVal.summary.failure.scores)).toContain('pairwiseDice');
    expect(existsSync(join(out(), 'results.json'))).toBe(true);
  }, 300_000); // with the validation evaluation of every method, ~3 min on the shared 2 cores

  it('a rerun trains and evaluates nothing again and gives the same results', async () => {
    const log: string[] = [];
    const again = await runExperiment(quick(out(), { log: (m) => log.push(m) }));
    expect(log.filter((m) => m.startsWith('train:') || m.startsWith('evaluate:'))).toEqual([]);
    // The saved evaluations read back (validated) give the same JSON, key order included.
    expect(JSON.stringify(again.rows)).toBe(JSON.stringify(results.rows));
    expect(JSON.stringify(again.studies)).toBe(JSON.stringify(results.studies));
    // Each summary holds the slice risk–coverage curve of its saved slices.
    const ev = JSON.parse(readFileSync(join(out(), 'evaluations', 'hmc__in-domain.json'), 'utf8'));
    const scored = ev.cases.flatMap((c: { slices: { score: number | null; failed: boolean | null }[] }) => c.slices.filter((x) => x.score !== null && x.failed !== null));
    const curve = ev.summary.failure.slice.riskCoverage;
    expect(curve.coverage.at(-1)).toBe(1);
    expect(curve.risk.at(-1)).toBeCloseTo(scored.filter((x: { failed: boolean }) => x.failed).length / scored.length, 12);
  }, 60_000);

  it('runs the temperature, cycles, cycle-layout, BatchNorm and budget studies, reusing the stores of equal configs', async () => {
    const log: string[] = [];
    const r = await runExperiment(
      quick(out(), { studies: ['temperature', 'cycles', 'layout', 'batchnorm', 'budget'], log: (m) => log.push(m) }),
    );
    // The demo grid: T = 0.01 with augmentation and the deterministic network with it are the main
    // runs; M = 1 is the variant's store and M = 3 the main run's; layouts (×1, from cycle 1) = the
    // main run, and (×2, from cycle 2); 0 BatchNorm batches = the main run, and 2.
    expect(log.filter((m) => m.startsWith('train:'))).toEqual([
      'train: temperature T1-aug',
      'train: temperature T0-aug',
      'train: temperature T1-noaug',
      'train: temperature T0.01-noaug',
      'train: temperature T0-noaug',
      'train: temperature deterministic-noaug',
      'train: cycles M6',
      'train: layout F2-from1',
      'train: batchnorm bn2',
      'train: budget deterministic-K12',
      'train: budget hmc-K12',
      'train: budget hmc-default-layout-K12',
    ]);
    // Five points reuse the main HMC store (T = 0.01 with augmentation, M = 3, the reference layout,
    // stored BatchNorm statistics, budget K): it is evaluated on the validation split once.
    expect(log.filter((m) => m === 'evaluate: models/hmc on validation')).toHaveLength(1);
    const temperature = r.studies.filter((p) => p.study === 'temperature');
    expect(temperature.map((p) => [p.method, p.setting.temperature ?? null, p.setting.augment])).toEqual([
      ['hmc', 1, true],
      ['hmc', 0.01, true],
      ['hmc', 0, true],
      ['deterministic', null, true],
      ['hmc', 1, false],
      ['hmc', 0.01, false],
      ['hmc', 0, false],
      ['deterministic', null, false],
    ]);
    // The budget study: one network, the reference HMC-CP and the variant at K and 2K.
    expect(r.studies.filter((p) => p.study === 'budget').map((p) => [p.method, p.setting.steps])).toEqual([
      ['deterministic', 6],
      ['hmc', 6],
      ['hmc-default-layout', 6],
      ['deterministic', 12],
      ['hmc', 12],
      ['hmc-default-layout', 12],
    ]);
    expect(r.studies.slice(8, 15).map((p) => [p.study, p.setting.cycles ?? p.setting.layout ?? p.setting.bnBatches])).toEqual([
      ['cycles', 1],
      ['cycles', 3],
      ['cycles', 6],
      ['layout', 'first ×1, from cycle 1'],
      ['layout', 'first ×2, from cycle 2'],
      ['batchnorm', 0],
      ['batchnorm', 2],
    ]);
    // K = 6, M = 3 with a first cycle twice as long: cycles of 4, 1 and 1 steps; samples from the last two.
    const warm = JSON.parse(readFileSync(join(out(), 'studies', 'layout', 'F2-from1', 'manifest.json'), 'utf8'));
    expect(warm.samples.map((s: { step: number }) => s.step)).toEqual([4, 5]);
    // The main store's evaluation equals the reused points' (same samples, same validation cases).
    const [, , , same, , stored] = r.studies.slice(8, 15);
    expect(stored.summary).toEqual(same.summary);
    const files = await writeReport({ in: out() });
    const html = readFileSync(files.html, 'utf8');
    expect(html).toContain('Cycle-layout study (HMC)');
    expect(html).toContain('BatchNorm statistics study (HMC)');
  }, 120_000);

  it('evaluates again where a cached evaluation was made from another store', async () => {
    const path = join(out(), 'evaluations', 'hmc__phantom-t2map.json');
    const cached = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...cached, store: 'another' }));
    const log: string[] = [];
    await runExperiment(quick(out(), { log: (m) => log.push(m) }));
    expect(log.filter((m) => m.startsWith('evaluate:'))).toEqual([
      `evaluate: ${path} was made from another store; evaluating again`,
      'evaluate: models/hmc on phantom-t2map',
    ]);
    expect(JSON.parse(readFileSync(path, 'utf8')).store).toBe(cached.store);
  }, 60_000);

  it('evaluates again where a saved evaluation has no risk–coverage curve (an older hmcseg)', async () => {
    const path = join(out(), 'evaluations', 'mcdropout__in-domain.json');
    const saved = readFileSync(path, 'utf8');
    const old = JSON.parse(saved);
    delete old.summary.failure.slice.riskCoverage;
    delete old.summary.failure.volume.riskCoverage;
    writeFileSync(path, JSON.stringify(old));
    const log: string[] = [];
    await runExperiment(quick(out(), { log: (m) => log.push(m) }));
    expect(log.filter((m) => m.startsWith('evaluate:'))).toEqual([
      `evaluate: ${path} has no slice risk–coverage curve or failure AURC (made by an older hmcseg); evaluating again`,
      'evaluate: models/mcdropout on in-domain',
    ]);
    const again = JSON.parse(readFileSync(path, 'utf8'));
    expect(again.summary).toEqual(JSON.parse(saved).summary);
  }, 60_000);

  it('evaluates MC Dropout again where it was predicted with fresh masks per slice (an older hmcseg); HMC-CP (one pass) is kept', async () => {
    const mcd = join(out(), 'evaluations', 'mcdropout__phantom-t1map.json');
    const hmc = join(out(), 'evaluations', 'hmc__phantom-t1map.json');
    const saved = readFileSync(mcd, 'utf8');
    for (const path of [mcd, hmc]) {
      const { prediction: _, ...old } = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(path, JSON.stringify(old));
    }
    expect(JSON.parse(saved).passes).toBeGreaterThan(1);
    const log: string[] = [];
    await runExperiment(quick(out(), { log: (m) => log.push(m) }));
    expect(log.filter((m) => m.startsWith('evaluate:'))).toEqual([
      `evaluate: ${mcd} was predicted with fresh dropout masks per slice (made by an older hmcseg); evaluating again`,
      'evaluate: models/mcdropout on phantom-t1map',
    ]);
    const again = JSON.parse(readFileSync(mcd, 'utf8'));
    expect(again.summary).toEqual(JSON.parse(saved).summary);
    expect(again.prediction).toBe(2);
  }, 60_000);

  it('BAD CALL - names a malformed saved evaluation, timing.json or experiment.json', async () => {
    const broken = async (rel: string, text: string, what: RegExp) => {
      const path = join(out(), rel);
      const saved = readFileSync(path, 'utf8');
      writeFileSync(path, text);
      try {
        await expect(runExperiment(quick(out()))).rejects.toThrow(what);
      } finally {
        writeFileSync(path, saved);
      }
    };
    const ev = JSON.parse(readFileSync(join(out(), 'evaluations', 'hmc__in-domain.json'), 'utf8'));
    await broken('evaluations/hmc__in-domain.json', JSON.stringify({ ...ev, samples: 'three' }), /hmc__in-domain\.json: invalid saved evaluation\n[^]*samples/);
    await broken('evaluations/hmc__in-domain.json', '{"store":', /hmc__in-domain\.json: cannot read the saved evaluation as JSON/);
    await broken('models/hmc/timing.json', '{"seconds": -1}', /models\/hmc\/timing\.json: invalid training time/);
    await broken('experiment.json', '{"preset": "demo"}', /experiment\.json: invalid experiment identity/);
  }, 60_000);

  it('refuses an output directory holding another experiment', async () => {
    await expect(runExperiment(quick(out(), { steps: 7 }))).rejects.toThrow(/another preset, config or data/);
  });

  it('renders the report and results.md from the saved results', async () => {
    const files = await writeReport({ in: out() });
    const html = readFileSync(files.html, 'utf8');
    expect(html).toContain('hmcseg experiment report');
    expect(html).not.toMatch(/<script\s+src|src="http/);
    expect(files.results).toBe(join(out(), 'results.md'));
    expect(readFileSync(files.results, 'utf8')).toMatch(/^# hmcseg experiment: preset demo\n[^]*\n## in-domain \(in-domain, \d+ cases\)\n\n\| method \| Dice LV/);
  }, 60_000);
});
