import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateSync } from 'node:zlib';
import { Command } from 'commander';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerReportCommand } from '../src/cli/report.js';
import type { CaseCalibration, EvaluationSummary, Stat } from '../src/evaluate/index.js';
import type { ExampleSlice, ExperimentResults, ResultRow, StudyPoint } from '../src/experiment/index.js';
import {
  coveragePoints,
  cropBox,
  encodePng,
  loadReportInput,
  methodColour,
  num,
  pooledReliability,
  PNG_SIGNATURE,
  prefixSvgIds,
  renderExample,
  resultsMarkdown,
  slicePoints,
  warningFailureOf,
  tableMarkdown,
  tableText,
  textCell,
  writeReport,
  type ReportCase,
  type Table,
} from '../src/report/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'hmcseg-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Fixture: a hand-made experiment output directory.

const st = (mean: number | null, std: number | null = null, n = 3): Stat => ({ mean, std, n: mean === null ? 0 : n, nan: mean === null ? n : 0, nanByReason: mean === null ? { missing: n } : {} });

interface SummaryNumbers {
  readonly dice: [number, number];
  readonly hd95: [number | null, number | null];
  readonly ece: number;
  readonly eceRoi: number;
  readonly nll: number;
  readonly brier: number;
  readonly pxAuroc: number;
  readonly sliceAuroc: number | null;
  readonly spearman: number | null;
}

function summary(x: SummaryNumbers): EvaluationSummary {
  const structure = { dice: st(...x.dice), hd95: st(...x.hd95), assd: st(1, 0.5) };
  const cal = (ece: number) => ({ pixels: 100, ece: { value: ece }, mce: { value: 0.2 }, nll: { value: x.nll }, brier: { value: x.brier } });
  const failure = (auroc: number | null, spearman: number | null) => ({
    n: 4,
    excluded: 0,
    unscored: 0,
    threshold: 0.8,
    failures: 2,
    auroc: auroc === null ? { value: null, reason: 'single-class' as const } : { value: auroc },
    spearman: spearman === null ? { value: null, reason: 'constant-input' as const } : { value: spearman },
    // The curve summarize saves for cases(): scores 0.1 ok, 0.2 ok, 0.3 failed, 0.4 failed.
    riskCoverage: { coverage: [0.25, 0.5, 0.75, 1], risk: [0, 0, 1 / 3, 0.5] },
    aurc: { value: 0.2 },
    eAurc: { value: 0.05 },
    diceRiskCoverage: { coverage: [0.25, 0.5, 0.75, 1], risk: [0.05, 0.1, 0.2, 0.3] },
  });
  return {
    cases: 2,
    unit: 'mm',
    failureThreshold: 0.8,
    all: { cases: 2, structures: { LV: structure, MYO: structure, RV: structure }, meanDice: st(x.dice[0], x.dice[1]) },
    calibration: { cases: 2, eceBins: 4, all: cal(x.ece), roi: cal(x.eceRoi) },
    uncertainty: { entropy: { cases: 2, auroc: st(x.pxAuroc), aupr: st(0.5), aurc: st(0.1), eAurc: st(0.05), bestOverlapDice: st(0.3) } },
    failure: {
      slice: failure(x.sliceAuroc, x.spearman),
      volume: failure(0.5, -0.1),
      scores: {
        entropyRegion: { slice: failure(x.sliceAuroc, x.spearman), volume: failure(0.5, -0.1) },
        pairwiseDice: { slice: failure(0.9, -0.5), volume: failure(0.6, -0.2) },
      },
    },
  };
}

const bins = (count: number[], confidenceSum: number[], correct: number[]) => ({ count, confidenceSum, correct });
function calibration(roiScale: number): CaseCalibration {
  const region = { pixels: 10, ece: { value: 0.1 }, mce: { value: 0.1 }, nll: { value: 0.3 }, brier: { value: 0.1 } };
  return {
    eceBins: 4,
    roiMargin: 5,
    all: { ...region, bins: bins([0, 0, 4, 6], [0, 0, 2.4, 5.4], [0, 0, 2, 6]) },
    roi: { ...region, bins: bins([0, 2 * roiScale, 2, 0], [0, 0.8 * roiScale, 1.2, 0], [0, roiScale, 1, 0]) },
  };
}

/** Two cases of 2 slices; scores and Dice chosen so that one method ranks failures perfectly. */
function cases(): ReportCase[] {
  const slice = (z: number, dice: number | null, score?: number) => ({
    z,
    dice: { LV: { value: dice }, MYO: { value: dice }, RV: { value: dice } },
    meanDice: dice === null ? { value: null, reason: 'both-empty' as const } : { value: dice },
    failed: dice === null ? null : dice < 0.8,
    // `score` is the evaluation's (entropyRegion); pairwiseDice ranks the slices the other way round.
    ...(score === undefined ? {} : { score, scores: { entropyRegion: score, pairwiseDice: 1 - score } }),
  });
  return [
    { id: 'p1_ED', slices: [slice(0, 0.95, 0.1), slice(1, 0.5, 0.4), slice(2, null, 0.9)], calibration: calibration(1) },
    { id: 'p2_ES', slices: [slice(0, 0.9, 0.2), slice(1, 0.3, 0.3), slice(2, 0.7)], calibration: calibration(2) },
  ];
}

const b64 = (a: Uint8Array) => Buffer.from(a).toString('base64');

/** An 8 × 6 slice: LV square at x 2..3, y 2..3 in the truth, shifted by one in x in the prediction. */
function example(kind: ExampleSlice['kind']): ExampleSlice {
  const nx = 8;
  const ny = 6;
  const image = new Uint8Array(nx * ny).map((_v, i) => (i * 5) % 256);
  const target = new Uint8Array(nx * ny);
  const seg = new Uint8Array(nx * ny);
  for (const y of [2, 3]) {
    for (const x of [2, 3]) target[y * nx + x] = 1;
    for (const x of [3, 4]) seg[y * nx + x] = 3;
  }
  const entropy = new Uint8Array(nx * ny).fill(0);
  entropy[0] = 255;
  return { case: 'p1_ED', z: 1, kind, meanDice: kind === 'correct' ? 0.95 : 0.5, score: 0.4, dims: [nx, ny], image: b64(image), target: b64(target), segmentation: b64(seg), entropy: b64(entropy) };
}

const NUMBERS: Record<string, SummaryNumbers> = {
  hmc: { dice: [0.9123, 0.0311], hd95: [4.24, 1.01], ece: 0.01234, eceRoi: 0.0456, nll: 0.1111, brier: 0.0222, pxAuroc: 0.8766, sliceAuroc: 1, spearman: -0.8 },
  deterministic: { dice: [0.8, 0.1], hd95: [null, null], ece: 0.05, eceRoi: 0.09, nll: 0.3, brier: 0.04, pxAuroc: 0.7, sliceAuroc: null, spearman: null },
};

function row(method: 'hmc' | 'deterministic', domain: string): ResultRow {
  return {
    method,
    domain,
    kind: domain === 'in-domain' ? 'in-domain' : 'out-of-domain',
    summary: summary(NUMBERS[method]),
    trainSeconds: method === 'hmc' ? 250 : 100,
    trainRatio: method === 'hmc' ? 2.5 : 1,
    predictMsPerSlice: method === 'hmc' ? 12.34 : 1.5,
    samples: 12,
    passes: 12,
    // hmc's chosen warning score is not the one the evaluation predicted with: every table and plot shows the chosen one.
    ...(method === 'hmc'
      ? { warningScore: 'pairwiseDice' as const, warningFailure: summary(NUMBERS[method]).failure.scores?.pairwiseDice }
      : { warningScore: 'entropyRegion' as const, warningFailure: summary(NUMBERS[method]).failure.scores?.entropyRegion }),
  };
}

const studyPoint = (study: StudyPoint['study'], setting: StudyPoint['setting'], method: StudyPoint['method'], dice: number): StudyPoint => ({
  study,
  setting,
  method,
  domain: 'validation',
  summary: summary({ ...NUMBERS.hmc, dice: [dice, 0.01] }),
  trainSeconds: 10,
});

/**
 * Writes the experiment directory: hmc and deterministic on in-domain and ood; the evaluation of
 * deterministic on ood is missing; examples for hmc only.
 */
function writeExperiment(dir: string, studies: StudyPoint[]): ExperimentResults {
  mkdirSync(join(dir, 'evaluations'), { recursive: true });
  mkdirSync(join(dir, 'examples'), { recursive: true });
  const domains = ['in-domain', 'ood'];
  const rows = (['deterministic', 'hmc'] as const).flatMap((m) => domains.map((d) => row(m, d)));
  const examples: Record<string, string> = {};
  for (const r of rows) {
    const key = `${r.method}__${r.domain}`;
    if (key !== 'deterministic__ood') {
      writeFileSync(join(dir, 'evaluations', `${key}.json`), JSON.stringify({ summary: r.summary, cases: cases(), msPerSlice: r.predictMsPerSlice, samples: 12, passes: 12 }));
    }
    examples[key] = `examples/${key}.json`;
    writeFileSync(join(dir, 'examples', `${key}.json`), JSON.stringify(r.method === 'hmc' ? [example('correct'), example('failure')] : []));
  }
  const results = {
    version: 1,
    preset: 'demo',
    description: 'synthetic <fixture>',
    createdAt: '2025-01-01T00:00:00.000Z',
    machine: { cpu: 'test cpu', cores: 2, node: 'v20' },
    config: {},
    data: { train: 'x', fingerprint: 'y', splits: 'z' },
    domains: domains.map((name) => ({ name, dir: name, labels: 'acdc', part: 'all', kind: name === 'in-domain' ? 'in-domain' : 'out-of-domain' })),
    rows,
    studies,
    examples,
  } as unknown as ExperimentResults;
  writeFileSync(join(dir, 'results.json'), JSON.stringify(results));
  return results;
}

const STUDIES: StudyPoint[] = [
  studyPoint('temperature', { temperature: 1, augment: true }, 'hmc', 0.7),
  studyPoint('temperature', { temperature: 0.01, augment: true }, 'hmc', 0.8),
  studyPoint('temperature', { temperature: 0, augment: false }, 'hmc', 0.75),
  studyPoint('samples', { samples: 1 }, 'hmc', 0.6),
  studyPoint('samples', { samples: 4 }, 'hmc', 0.7),
  studyPoint('samples', { samples: 4 }, 'ensemble', 0.72),
];

/** The cells of the table row whose first cell is `label`, in the first table with the caption. */
function htmlRow(html: string, caption: string, label: string): string[] {
  const table = html.slice(html.indexOf(`<caption>${caption}</caption>`));
  const m = new RegExp(`<tr><td[^>]*>${label}</td>(.*?)</tr>`).exec(table);
  if (!m) throw new Error(`no row ${label} in ${caption}`);
  return [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((x) => x[1]);
}

// ---------------------------------------------------------------------------------------------

describe('encodePng', () => {
  it('round-trips RGB and RGBA through an independent decoder (pngjs, CRCs checked)', () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    const png = encodePng({ width: 3, height: 2, channels: 3, data: rgb });
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const back = PNG.sync.read(png, { checkCRC: true } as never);
    expect([back.width, back.height]).toEqual([3, 2]);
    const expected = [...Array(6).keys()].flatMap((i) => [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 255]);
    expect([...back.data]).toEqual(expected);

    const rgba = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const back4 = PNG.sync.read(encodePng({ width: 1, height: 2, channels: 4, data: rgba }));
    expect([back4.width, back4.height, ...back4.data]).toEqual([1, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('writes IHDR by the spec: length 13, size, depth 8, colour type 2, and a CRC over type + data', () => {
    const png = encodePng({ width: 300, height: 2, channels: 3, data: new Uint8Array(1800) });
    expect(png.readUInt32BE(8)).toBe(13);
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25], png[26], png[27], png[28]]).toEqual([300, 2, 8, 2, 0, 0, 0]);
    expect(png.readUInt32BE(29)).toBe(crc32(png.subarray(12, 29)) >>> 0);
    // IDAT: each row is a filter byte (0) and the 900 bytes.
    const idatLength = png.readUInt32BE(33);
    const raw = inflateSync(png.subarray(41, 41 + idatLength));
    expect(raw.length).toBe(2 * 901);
    expect([raw[0], raw[901]]).toEqual([0, 0]);
    expect(png.subarray(png.length - 12).toString('hex')).toBe('0000000049454e44ae426082');
  });

  it('BAD CALL - rejects a size that does not match the data', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) })).toThrow(RangeError);
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) })).toThrow(/11 bytes, 2 × 2 × 3 needs 12/);
    expect(() => encodePng({ width: 0, height: 2, channels: 3, data: new Uint8Array(0) })).toThrow(/positive integers/);
  });
});

describe('plot data from saved evaluations', () => {
  it('pools reliability bins by summing the cases (empty bins left out)', () => {
    const all = pooledReliability(cases(), 'all');
    // Bins 2 and 3, each doubled: counts 8 and 12, confidence 4.8/8 and 10.8/12, accuracy 4/8 and 12/12.
    expect(all).toEqual([
      { lo: 0.5, hi: 0.75, count: 8, confidence: 0.6, accuracy: 0.5 },
      { lo: 0.75, hi: 1, count: 12, confidence: 0.9, accuracy: 1 },
    ]);
    const roi = pooledReliability(cases(), 'roi');
    // Bin 1: counts 2 + 4, confidence (0.8 + 1.6) / 6, correct (1 + 2) / 6.
    expect(roi[0].count).toBe(6);
    expect(roi[0].confidence).toBeCloseTo(0.4, 12);
    expect(roi[0].accuracy).toBeCloseTo(0.5, 12);
    expect(pooledReliability([{ id: 'x', slices: [] }], 'all')).toEqual([]);
  });

  it('lists scored slices with a mean Dice and draws the saved risk–coverage curve from coverage 0', () => {
    const pts = slicePoints(cases());
    // p1 z2 has no labelled structure, p2 z2 no score.
    expect(pts.map((p) => [p.case, p.z, p.score, p.failed])).toEqual([
      ['p1_ED', 0, 0.1, false],
      ['p1_ED', 1, 0.4, true],
      ['p2_ES', 0, 0.2, false],
      ['p2_ES', 1, 0.3, true],
    ]);
    // By name: the method's warning score, from the slices' named scores.
    expect(slicePoints(cases(), 'pairwiseDice').map((p) => [p.case, p.z, p.score])).toEqual([
      ['p1_ED', 0, 0.9],
      ['p1_ED', 1, 0.6],
      ['p2_ES', 0, 0.8],
      ['p2_ES', 1, 0.7],
    ]);
    expect(slicePoints(cases(), 'volumeCV')).toEqual([]);
    expect(coveragePoints({ coverage: [0.25, 0.5, 0.75, 1], risk: [0.5, 0, 1 / 3, 0.5] })).toEqual([
      { coverage: 0, risk: 0.5 },
      { coverage: 0.25, risk: 0.5 },
      { coverage: 0.5, risk: 0 },
      { coverage: 0.75, risk: 1 / 3 },
      { coverage: 1, risk: 0.5 },
    ]);
    expect(coveragePoints({ coverage: [], risk: [] })).toEqual([]);
  });
});

describe('warningFailureOf', () => {
  it("gives the chosen warning score's failure detection, and the summary's own for results written before the choice", () => {
    const hmc = row('hmc', 'in-domain');
    expect(warningFailureOf(hmc)?.slice.auroc).toEqual({ value: 0.9 });
    const { warningScore: _w, warningFailure: _f, ...old } = hmc;
    expect(warningFailureOf(old as ResultRow)?.slice.auroc).toEqual({ value: 1 });
    // A chosen score that the predictions lack (none of the row's scores): nothing, not another score's.
    expect(warningFailureOf({ ...hmc, warningScore: 'volumeCV', warningFailure: undefined })).toBeUndefined();
  });
});

describe('example pictures', () => {
  it('crops a square around the structures with a margin, inside the slice', () => {
    const t = new Uint8Array(100 * 80);
    t[40 * 100 + 50] = 1; // one pixel at x 50, y 40
    expect(cropBox(t, new Uint8Array(t.length), [100, 80], 12)).toEqual({ x0: 38, y0: 28, size: 25 });
    const edge = new Uint8Array(100 * 80);
    edge[0] = 2;
    expect(cropBox(edge, new Uint8Array(edge.length), [100, 80], 12)).toEqual({ x0: 0, y0: 0, size: 25 });
    expect(cropBox(new Uint8Array(100 * 80), new Uint8Array(100 * 80), [100, 80])).toEqual({ x0: 10, y0: 0, size: 80 });
  });

  it('draws truth, prediction and entropy panels: contour in full colour, fill blended, entropy by inferno', () => {
    const r = renderExample(example('correct'), 'test');
    // Whole 8×6 slice fits in the crop (structures x 2..4 with margin 12 → size 6), scale floor(180/6) = 4 → clamp 4.
    expect(r.crop).toEqual({ x0: 1, y0: 0, size: 6 });
    expect(r.scale).toBe(4);
    expect([r.width, r.height]).toEqual([3 * 24 + 12, 24]);
    const px = (X: number, Y: number) => [...r.data.subarray((Y * r.width + X) * 3, (Y * r.width + X) * 3 + 3)];
    // Truth panel: LV square at slice x 2..3 → crop x 1..2 → output X 4..11, Y 8..15; its edge is orange.
    expect(px(4, 8)).toEqual([230, 159, 0]);
    // Interior of the upscaled square (X 5, Y 9): 35 % orange over the grey (slice pixel 2 + 2·8 = 18 → grey 90).
    expect(px(5, 9)).toEqual([Math.round(0.35 * 230 + 0.65 * 90), Math.round(0.35 * 159 + 0.65 * 90), Math.round(0.65 * 90)]);
    // Outside the structures: the grey image (slice x 1, y 0 → pixel 1 → grey 5).
    expect(px(0, 0)).toEqual([5, 5, 5]);
    // Prediction panel starts at 24 + 6: the RV square (slice x 3..4 → crop 2..3 → X 8..15) in sky blue at its edge.
    expect(px(30 + 8, 8)).toEqual([86, 180, 233]);
    // Entropy panel: slice pixel 0 is outside the crop (x0 = 1), so all are entropy 0 → inferno(0) = rgb(0, 0, 4).
    expect(px(60, 0)).toEqual([0, 0, 4]);
  });

  it('BAD CALL - names the example when an array does not fit dims or a label is not a class', () => {
    const ex = { ...example('failure'), dims: [8, 5] as const };
    expect(() => renderExample(ex, 'examples/x.json example 1')).toThrow(/examples\/x\.json example 1: image holds 48 values, dims 8×5 need 40/);
    const bad = example('failure');
    const labels = new Uint8Array(48);
    labels[7] = 9;
    expect(() => renderExample({ ...bad, segmentation: b64(labels) }, 'ex')).toThrow(/ex: segmentation has label 9 at pixel 7/);
  });
});

describe('prefixSvgIds', () => {
  it('prefixes ids and their url(#…) and href="#…" references, and nothing else', () => {
    const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath><linearGradient id="g"/></defs><g clip-path="url(#clip1)" fill="url(#g)"><use href="#g"/><text>#g</text></g></svg>';
    expect(prefixSvgIds(svg, 'c1')).toBe(
      '<svg><defs><clipPath id="c1-clip1"><rect/></clipPath><linearGradient id="c1-g"/></defs><g clip-path="url(#c1-clip1)" fill="url(#c1-g)"><use href="#c1-g"/><text>#g</text></g></svg>',
    );
  });
});

describe('writeReport', () => {
  const dir = join(tmp, 'run');
  writeExperiment(dir, STUDIES);
  let html = '';
  let md = '';
  it('writes report.html, report.md and the SVG figures', async () => {
    const files = await writeReport({ in: dir });
    expect(files.html).toBe(join(dir, 'report.html'));
    expect(files.markdown).toBe(join(dir, 'report.md'));
    html = readFileSync(files.html, 'utf8');
    md = readFileSync(files.markdown, 'utf8');
    // 4 charts per domain (reliability, scatter, risk–coverage, risk–coverage by score) and 2 studies (temperature, samples).
    expect(files.figures.map((f) => f.slice(dir.length + 1)).sort()).toEqual(
      [
        'in-domain-reliability', 'in-domain-risk-coverage', 'in-domain-scatter', 'in-domain-score-risk-coverage',
        'ood-reliability', 'ood-risk-coverage', 'ood-scatter', 'ood-score-risk-coverage',
        'study-samples', 'study-temperature',
      ].map((f) => `report-figures/${f}.svg`),
    );
    for (const f of files.figures) expect(readFileSync(f, 'utf8')).toMatch(/^<svg /);
  });

  it('is self-contained: no script, stylesheet link, external src or url()', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/src="(?!data:)/);
    expect(html).not.toMatch(/url\((?!#)/);
    expect(html).not.toMatch(/@import/);
  });

  it('holds one inline <svg> per chart, with ids unique across the document', () => {
    expect(html.match(/<svg /g)?.length).toBe(10);
    for (const id of ['in-domain-reliability', 'ood-scatter', 'study-temperature', 'study-samples']) expect(html).toContain(`<figure id="${id}"><svg `);
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    // Every url(#…) points at an id of the document.
    for (const m of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(m[1]);
  });

  it('embeds each example as a PNG data URI of the declared size (2 hmc examples × 2 domains)', () => {
    const imgs = [...html.matchAll(/<img src="data:image\/png;base64,([^"]+)" width="(\d+)" height="(\d+)"/g)];
    expect(imgs.length).toBe(4);
    for (const [, data, w, h] of imgs) {
      const png = Buffer.from(data, 'base64');
      expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
      const decoded = PNG.sync.read(png);
      expect([decoded.width, decoded.height]).toEqual([Number(w), Number(h)]);
      expect([decoded.width, decoded.height]).toEqual([84, 24]);
    }
    expect(html).toContain('<span class="kind-failure">failure</span> · p1_ED z=1 · Dice 0.500 · score 0.400');
  });

  it('shows the saved numbers formatted, and – for null', () => {
    expect(htmlRow(html, 'in-domain: segmentation and cost', 'hmc')).toEqual([
      '0.912 ± 0.031', '0.912 ± 0.031', '0.912 ± 0.031', '4.2 ± 1.0', '4.2 ± 1.0', '4.2 ± 1.0', '250', '2.50', '12.3',
    ]);
    expect(htmlRow(html, 'in-domain: segmentation and cost', 'deterministic')).toEqual([
      '0.800 ± 0.100', '0.800 ± 0.100', '0.800 ± 0.100', '–', '–', '–', '100', '1.00', '1.5',
    ]);
    // The slice failure detection of the warning score chosen on validation (hmc: pairwiseDice), not of the evaluation's own score.
    expect(htmlRow(html, 'in-domain: calibration and uncertainty', 'hmc')).toEqual([
      '0.0123', '0.0456', '0.1111', '0.0222', '0.877', '0.0500', 'pairwiseDice', '0.900', '-0.500', '2 / 4',
    ]);
    expect(htmlRow(html, 'ood: calibration and uncertainty', 'deterministic').slice(6, 9)).toEqual(['entropyRegion', '–', '–']);
    // Every named score, the method's warning score marked; its first row is entropyRegion.
    expect(htmlRow(html, 'in-domain: failure detection by score', 'hmc')).toEqual([
      'entropyRegion', '1.000', '0.2000', '0.0500', '0.500', '0.2000', '0.0500', '0',
    ]);
    expect(html).toMatch(/<td class="left">pairwiseDice ★<\/td><td[^>]*>0\.900<\/td>/);
    expect(html).toMatch(/<tr><td class="left">deterministic<\/td><td class="left">entropyRegion ★<\/td>/);
    expect(html).toContain('HD95 LV (mm)');
    // Best per column in bold: hmc has the higher Dice.
    expect(html).toMatch(/<tr><td class="left">hmc<\/td><td class="best">0\.912 ± 0\.031<\/td>/);
    expect(html).toMatch(/<tr><td class="left">deterministic<\/td><td>0\.800 ± 0\.100<\/td>/);
    // Column notes once, in the glossary.
    expect(html.match(/<b>ECE-ROI<\/b>: ECE over the region of interest/g)?.length).toBe(1);
    // Escaped text from the results.
    expect(html).toContain('synthetic &lt;fixture&gt;');
  });

  it('notes the missing evaluation file and still draws the other method, in its own colour', () => {
    expect(html).toContain('evaluations/deterministic__ood.json');
    const ood = readFileSync(join(dir, 'report-figures', 'ood-scatter.svg'), 'utf8');
    expect(ood).toContain('hmc');
    expect(ood).not.toContain('deterministic');
    // hmc is the second method of the report: tableau10's second colour, on in-domain and on ood.
    expect(methodColour(['deterministic', 'hmc'], ['hmc'])).toEqual({ domain: ['hmc'], range: ['#f58518'] });
    for (const d of ['in-domain', 'ood']) {
      expect(readFileSync(join(dir, 'report-figures', `${d}-risk-coverage.svg`), 'utf8')).toMatch(/stroke="#f58518"/);
    }
  });

  it('writes the key tables as Markdown with links to the figure files', () => {
    expect(md).toContain('| hmc | 0.912 ± 0.031 | 0.912 ± 0.031 | 0.912 ± 0.031 | 4.2 ± 1.0 | 4.2 ± 1.0 | 4.2 ± 1.0 | 250 | 2.50 | 12.3 |');
    expect(md).toContain('| deterministic | 0.800 ± 0.100 | 0.800 ± 0.100 | 0.800 ± 0.100 | – | – | – | 100 | 1.00 | 1.5 |');
    expect(md).toContain('| temperature | temperature=0.01, augment=true | hmc | 0.800 ± 0.010 | 0.0456 | 1.000 | 10 |');
    expect(md.match(/^- ECE-ROI: /gm)?.length).toBe(1);
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBe(10);
    for (const l of links) expect(existsSync(join(dir, l))).toBe(true);
  });

  it('without studies says so and draws no study chart; --out puts the files elsewhere', async () => {
    const bare = join(tmp, 'bare');
    writeExperiment(bare, []);
    const out = join(tmp, 'elsewhere', 'r.html');
    const files = await writeReport({ in: bare, out });
    expect(files.markdown).toBe(join(tmp, 'elsewhere', 'r.md'));
    const h = readFileSync(out, 'utf8');
    expect(h).toContain('This run has no studies.');
    expect(h.match(/<svg /g)?.length).toBe(8);
    expect(readFileSync(files.markdown, 'utf8')).toContain('](report-figures/in-domain-scatter.svg)');
  });
});

describe('tables', () => {
  const t: Table = {
    title: 'A | B',
    columns: [{ label: 'method', align: 'left' }, { label: 'Dice' }, { label: 'note', align: 'left' }],
    rows: [
      [textCell('hmc'), num(0.91234, 3), textCell('a|b')],
      [textCell('deterministic'), num(NaN, 3), textCell('')],
    ],
  };

  it('renders Markdown: bold title, text left and numbers right (or plain delimiters), pipes escaped, – for NaN', () => {
    expect(tableMarkdown(t)).toBe(
      ['**A \\| B**', '', '| method | Dice | note |', '|:---|---:|:---|', '| hmc | 0.912 | a\\|b |', '| deterministic | – |  |'].join('\n'),
    );
    expect(tableMarkdown({ ...t, title: undefined }, { aligned: false }).split('\n').slice(0, 2)).toEqual(['| method | Dice | note |', '|---|---|---|']);
  });

  it('renders plain text: columns padded to the widest cell, two spaces apart, numbers right-aligned, no trailing blanks', () => {
    expect(tableText(t)).toBe(['A | B', 'method          Dice  note', 'hmc            0.912  a|b', 'deterministic      –'].join('\n'));
  });

  it('writes results.md: one table per domain (HD95 the mean of the structures), then the studies', async () => {
    const d = join(tmp, 'results-md');
    const r = writeExperiment(d, STUDIES.slice(0, 1));
    const files = await writeReport({ in: d });
    const md = readFileSync(files.results, 'utf8');
    expect(md).toBe(resultsMarkdown(r));
    expect(md.startsWith('# hmcseg experiment: preset demo\n\nsynthetic <fixture>\n\n## in-domain (in-domain, 2 cases)\n\n')).toBe(true);
    expect(md).toContain(
      '| method | Dice LV | Dice MYO | Dice RV | HD95 (mm) | ECE | ECE-ROI | NLL | Brier | px-AUROC (entropy) | warning score | slice failure AUROC | slice e-AURC | Spearman | train s | × det. | ms/slice |\n|---|',
    );
    expect(md).toContain('| hmc | 0.912 | 0.912 | 0.912 | 4.2 | 0.0123 | 0.0456 | 0.1111 | 0.0222 | 0.877 | pairwiseDice | 0.900 | 0.050 | -0.500 | 250 | 2.50 | 12.3 |');
    expect(md).toContain('| deterministic | 0.800 | 0.800 | 0.800 | – | 0.0500 | 0.0900 | 0.3000 | 0.0400 | 0.700 | entropyRegion | – | 0.050 | – | 100 | 1.00 | 1.5 |');
    expect(md.endsWith('## Studies (validation split)\n\n| study | setting | method | Dice LV | Dice MYO | Dice RV | ECE-ROI | slice failure AUROC (entropyRegion) |\n|---|---|---|---|---|---|---|---|\n| temperature | temperature=1, augment=true | hmc | 0.700 | 0.700 | 0.700 | 0.0456 | 1.000 |\n\n')).toBe(true);
  });
});

describe('loadReportInput', () => {
  it('BAD CALL - names the file when results.json is missing or malformed', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    expect(() => loadReportInput(empty)).toThrow(`${join(empty, 'results.json')}: not found`);
    writeFileSync(join(empty, 'results.json'), '{"version": 1, "domains": [], "rows": [{}], "studies": []}');
    expect(() => loadReportInput(empty)).toThrow(/results\.json: rows\[0\] needs a method, a domain and a summary/);
    writeFileSync(join(empty, 'results.json'), '{"version": 1,');
    expect(() => loadReportInput(empty)).toThrow(/results\.json: cannot read the experiment results as JSON/);
  });

  it('BAD CALL - names a malformed evaluation file', () => {
    const d = join(tmp, 'bad-eval');
    writeExperiment(d, []);
    writeFileSync(join(d, 'evaluations', 'hmc__ood.json'), '{"summary": {}, "cases": [{"id": "x"}]}');
    expect(() => loadReportInput(d)).toThrow(/hmc__ood\.json: cases\[0\] has no 'slices' array/);
    const ok = JSON.parse(readFileSync(join(d, 'evaluations', 'hmc__in-domain.json'), 'utf8'));
    ok.summary.failure.slice.riskCoverage = { coverage: [1], risk: [] };
    writeFileSync(join(d, 'evaluations', 'hmc__ood.json'), JSON.stringify(ok));
    expect(() => loadReportInput(d)).toThrow(/hmc__ood\.json: summary\.failure\.slice\.riskCoverage needs 'coverage' and 'risk' arrays of numbers of one length/);
  });

  it('an evaluation saved before the curve was: the report names it and leaves its curve out', async () => {
    const d = join(tmp, 'old-eval');
    writeExperiment(d, []);
    const path = join(d, 'evaluations', 'hmc__ood.json');
    const old = JSON.parse(readFileSync(path, 'utf8'));
    delete old.summary.failure.slice.riskCoverage;
    writeFileSync(path, JSON.stringify(old));
    expect(loadReportInput(d).withoutCurve).toEqual(['evaluations/hmc__ood.json']);
    const files = await writeReport({ in: d });
    const note = 'Saved evaluations without the slice risk–coverage curve (written by an older hmcseg; their curves are left out; rerunning the same hmcseg experiment command evaluates them again): evaluations/hmc__ood.json.';
    expect(readFileSync(files.html, 'utf8')).toContain(`<p class="note">${note}</p>`);
    expect(readFileSync(files.markdown, 'utf8')).toContain(note);
    // ood has no other curve (deterministic's evaluation is missing): no chart; in-domain keeps both curves.
    expect(files.figures.map((f) => f.slice(d.length + 1)).filter((f) => f.includes('risk-coverage') && !f.includes('score-risk-coverage'))).toEqual(['report-figures/in-domain-risk-coverage.svg']);
    expect(readFileSync(join(d, 'report-figures', 'in-domain-risk-coverage.svg'), 'utf8')).toMatch(/stroke="#f58518"/);
  });
});

describe('hmcseg report', () => {
  it('renders DIR/report.html from the command line', async () => {
    const d = join(tmp, 'cli');
    writeExperiment(d, []);
    const program = new Command().exitOverride();
    registerReportCommand(program);
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync(['node', 'hmcseg', 'report', '--in', d]);
    } finally {
      write.mockRestore();
    }
    expect(readFileSync(join(d, 'report.html'), 'utf8')).toContain('<h1>hmcseg experiment report — preset demo</h1>');
  });
});
