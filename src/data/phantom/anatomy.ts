/**
 * Random short-axis anatomy of one phantom case and its rasterisation into tissue maps.
 *
 * Geometry is in mm in the image plane (x to the right, y down; the anterior chest wall is at the
 * top, liver and diaphragm at the bottom left) and along the long axis (z, from the ED basal
 * plane towards the apex). The LV is a pair of nested half-ellipsoids (endocardium, epicardium);
 * the RV cavity is an ellipse on the septal side minus the LV epicardium, which makes the crescent
 * wrapped around the septum; both shrink towards the apex, the RV faster, so apical slices have no
 * RV. End-systole keeps the apex fixed, shortens the ventricle, shrinks the cavity and keeps the
 * myocardial area of each slice (so the wall thickens).
 */
import type { Rng } from '../../util/rng.js';
import { Tissue } from './tissues.js';

export type Phase = 'ED' | 'ES';
/** Shape family of a case: normal, dilated (large cavity, thin wall) or hypertrophic. */
export type Morphology = 'normal' | 'dilated' | 'hypertrophic';

/** Low-order Fourier perturbation of a radius: r(φ) = R · (1 + Σₖ aₖ cos(kφ + φₖ)), k = 2, 3, 4. */
export interface RadialShape {
  readonly amp: readonly number[];
  readonly phase: readonly number[];
}

/** Everything random about one case; the same anatomy renders both cardiac phases. */
export interface CaseAnatomy {
  readonly morphology: Morphology;
  /** Field of view in mm (square). */
  readonly fovMm: number;
  /** Long-axis position of each slice in mm from the ED basal plane, base → apex. */
  readonly sliceZ: readonly number[];
  readonly sliceSpacingMm: number;
  readonly lv: {
    /** LV centre at z = 0, mm. */
    readonly center: readonly [number, number];
    /** In-plane drift of the centre per mm of z (the stack is not exactly along the long axis). */
    readonly drift: readonly [number, number];
    /** Direction from the LV centre to the RV at z = 0, radians. */
    readonly rvAngle: number;
    /** Rotation of the whole heart per mm of z, radians. */
    readonly twist: number;
    /** Basal endocardial radius, mm. */
    readonly endoRadius: Readonly<Record<Phase, number>>;
    /** Basal ED epicardial radius, mm. */
    readonly epiRadiusED: number;
    /** Endocardial half-ellipsoid length, mm (ES is shorter; the apex stays put). */
    readonly endoLength: Readonly<Record<Phase, number>>;
    /** Epicardial half-ellipsoid length at ED, mm. */
    readonly epiLengthED: number;
    /** Ratio of ES to ED myocardial area in a slice. */
    readonly esMyoAreaGain: number;
    readonly shape: RadialShape;
  };
  readonly rv: {
    /** Long-axis extent of the RV cavity, mm (shorter than the LV's). */
    readonly length: number;
    /** How far the cavity reaches beyond the LV epicardium at the base, mm. */
    readonly protrusion: Readonly<Record<Phase, number>>;
    /** Half-width of the RV ellipse across the septum, relative to the LV epicardial radius. */
    readonly wrap: Readonly<Record<Phase, number>>;
    readonly wallMm: number;
    readonly shape: RadialShape;
  };
  readonly papillary: {
    readonly radiusMm: number;
    /** Angles relative to the RV direction, radians. */
    readonly angles: readonly [number, number];
  };
  readonly fat: { readonly thicknessMm: number; readonly shape: RadialShape };
  readonly aorta: { readonly offset: readonly [number, number]; readonly radiusMm: number };
  readonly body: {
    readonly center: readonly [number, number];
    readonly semiAxes: readonly [number, number];
    readonly subcutaneousFatMm: number;
    readonly muscleMm: number;
  };
  readonly liver: {
    readonly center: readonly [number, number];
    readonly semiAxes: readonly [number, number];
    /** How far the liver rises (towards −y) from the first to the last slice, mm. */
    readonly riseMm: number;
  };
}

export interface AnatomyOptions {
  /** Number of slices; drawn from 6–10 when absent. */
  readonly slices?: number;
  readonly fovMm: number;
}

const MORPHOLOGY_RANGES: Record<
  Morphology,
  { endo: [number, number]; wall: [number, number]; esRatio: [number, number] }
> = {
  normal: { endo: [22, 28], wall: [7, 10], esRatio: [0.6, 0.72] },
  dilated: { endo: [29, 35], wall: [5, 7.5], esRatio: [0.8, 0.9] },
  hypertrophic: { endo: [18, 23], wall: [12, 16], esRatio: [0.45, 0.6] },
};

function radialShape(rng: Rng, sd: number): RadialShape {
  const amp: number[] = [];
  const phase: number[] = [];
  for (let k = 2; k <= 4; k++) {
    amp.push(Math.max(-2 * sd, Math.min(2 * sd, sd * rng.normal())) / (k - 1));
    phase.push(rng.range(0, 2 * Math.PI));
  }
  return { amp, phase };
}

function perturbation(s: RadialShape, phi: number): number {
  let p = 0;
  for (let i = 0; i < s.amp.length; i++) p += s.amp[i] * Math.cos((i + 2) * phi + s.phase[i]);
  return p;
}

/**
 * Draws the anatomy of one case. Every draw happens whatever the options, so that a case's
 * anatomy does not depend on them (except the slice count and positions).
 */
export function sampleAnatomy(rng: Rng, opts: AnatomyOptions): CaseAnatomy {
  const u = rng.uniform();
  const morphology: Morphology = u < 0.5 ? 'normal' : u < 0.75 ? 'dilated' : 'hypertrophic';
  const m = MORPHOLOGY_RANGES[morphology];
  const endoED = rng.range(...m.endo);
  const wall = rng.range(...m.wall);
  const endoES = endoED * rng.range(...m.esRatio);
  const lengthED = rng.range(60, 80);
  const lengthES = lengthED * rng.range(0.85, 0.92);
  const esMyoAreaGain = rng.range(1.0, 1.12);

  const drawnSlices = 6 + rng.int(5);
  const nz = opts.slices ?? drawnSlices;
  const z0 = rng.range(0, 6);
  const zEnd = lengthED * rng.range(0.85, 1.0);
  const sliceSpacingMm = nz > 1 ? (zEnd - z0) / (nz - 1) : 10;
  const sliceZ = Array.from({ length: nz }, (_, k) => (nz > 1 ? z0 + k * sliceSpacingMm : lengthED * 0.4));

  const lv = {
    center: [rng.range(5, 25), rng.range(-15, 5)] as const,
    drift: [rng.range(-0.08, 0.08), rng.range(-0.08, 0.08)] as const,
    rvAngle: ((210 + rng.range(-30, 30)) * Math.PI) / 180,
    twist: rng.range(-0.004, 0.004),
    endoRadius: { ED: endoED, ES: endoES },
    epiRadiusED: endoED + wall,
    endoLength: { ED: lengthED, ES: lengthES },
    epiLengthED: lengthED + 0.8 * wall,
    esMyoAreaGain,
    shape: radialShape(rng, 0.04),
  };
  const protrusionED = rng.range(10, 18);
  const wrapED = rng.range(1.0, 1.25);
  const rv = {
    // Always shorter than the stack reaches (zEnd ≥ 0.85 · lengthED), so the apical slice has no RV.
    length: lengthED * rng.range(0.62, 0.8),
    protrusion: { ED: protrusionED, ES: protrusionED * rng.range(0.55, 0.75) },
    wrap: { ED: wrapED, ES: wrapED * rng.range(0.85, 0.95) },
    wallMm: rng.range(2.5, 4.5),
    shape: radialShape(rng, 0.04),
  };
  const pa = rng.range(0.6, 1.0);
  const papillary = {
    radiusMm: rng.range(2.5, 4),
    angles: [Math.PI - pa, Math.PI + pa] as const,
  };
  const fat = { thicknessMm: rng.range(1.5, 5), shape: radialShape(rng, 0.5) };
  const aorta = { offset: [rng.range(-20, 5), rng.range(55, 70)] as const, radiusMm: rng.range(10, 14) };
  const body = {
    center: [rng.range(-10, 10), rng.range(30, 50)] as const,
    semiAxes: [rng.range(150, 185), rng.range(125, 145)] as const,
    subcutaneousFatMm: rng.range(5, 20),
    muscleMm: rng.range(8, 15),
  };
  const liver = {
    center: [rng.range(-70, -40), rng.range(100, 115)] as const,
    semiAxes: [rng.range(85, 110), rng.range(50, 65)] as const,
    riseMm: rng.range(10, 30),
  };
  return { morphology, fovMm: opts.fovMm, sliceZ, sliceSpacingMm, lv, rv, papillary, fat, aorta, body, liver };
}

/** LV endocardial and epicardial radii (mm, before the shape perturbation) at long-axis z. */
export function lvRadii(a: CaseAnatomy, z: number, phase: Phase): { endo: number; epi: number } {
  const { lv } = a;
  const halfEllipsoid = (r0: number, len: number, zz: number): number => {
    const q = Math.max(0, zz) / len;
    return q >= 1 ? 0 : r0 * Math.sqrt(1 - q * q);
  };
  const endoED = halfEllipsoid(lv.endoRadius.ED, lv.endoLength.ED, z);
  const epiED = halfEllipsoid(lv.epiRadiusED, lv.epiLengthED, z);
  if (phase === 'ED') return { endo: endoED, epi: epiED };
  // ES: the base descends towards the fixed apex; slices above the ES base see the basal section.
  const zES = z - (lv.endoLength.ED - lv.endoLength.ES);
  const endo = halfEllipsoid(lv.endoRadius.ES, lv.endoLength.ES, zES);
  const epi = Math.sqrt(endo * endo + lv.esMyoAreaGain * (epiED * epiED - endoED * endoED));
  return { endo, epi };
}

/**
 * Renders the tissue map of slice `k` (one byte per pixel, x fastest) on a size × size grid.
 *
 * @param a - the case anatomy.
 * @param phase - ED or ES.
 * @param k - slice index into `a.sliceZ`.
 * @param size - pixels per side; the pixel size is `a.fovMm / size`.
 */
export function rasterizeSlice(a: CaseAnatomy, phase: Phase, k: number, size: number): Uint8Array {
  const z = a.sliceZ[k];
  const px = a.fovMm / size;
  const out = new Uint8Array(size * size);

  const cx = a.lv.center[0] + a.lv.drift[0] * z;
  const cy = a.lv.center[1] + a.lv.drift[1] * z;
  const theta = a.lv.rvAngle + a.lv.twist * z;
  const cosT = Math.cos(theta);
  const sinT = Math.sin(theta);
  const { endo, epi } = lvRadii(a, z, phase);

  // RV ellipse in the frame of the RV direction: far tip at epi + P, near tip at −0.2 · epi.
  const sRv = Math.sqrt(Math.max(0, 1 - (z / a.rv.length) ** 2));
  const P = a.rv.protrusion[phase] * sRv;
  const hasRv = P >= 1 && epi > 0;
  const rvA = (1.2 * epi + P) / 2;
  const rvM = epi + P - rvA;
  const rvB = a.rv.wrap[phase] * epi * (0.75 + 0.25 * sRv);
  const wall = a.rv.wallMm;

  const zFrac = z / a.lv.endoLength.ED;
  const hasPapillary = endo > 0 && zFrac >= 0.2 && zFrac <= 0.75;
  const papR = a.papillary.radiusMm * (phase === 'ES' ? 1.15 : 1);

  const zLast = a.sliceZ[a.sliceZ.length - 1] || 1;
  const liverCy = a.liver.center[1] - a.liver.riseMm * (z / zLast);
  const aortaX = a.lv.center[0] + a.aorta.offset[0];
  const aortaY = a.lv.center[1] + a.aorta.offset[1];
  const [bAx, bAy] = a.body.semiAxes;
  const sf = a.body.subcutaneousFatMm;
  const mus = a.body.muscleMm;

  for (let j = 0; j < size; j++) {
    const y = (j + 0.5 - size / 2) * px;
    for (let i = 0; i < size; i++) {
      const x = (i + 0.5 - size / 2) * px;
      out[i + size * j] = tissueAt(x, y);
    }
  }
  return out;

  function tissueAt(x: number, y: number): Tissue {
    const dx = x - cx;
    const dy = y - cy;
    const along = dx * cosT + dy * sinT;
    const perp = -dx * sinT + dy * cosT;
    const r = Math.hypot(dx, dy);
    const phi = Math.atan2(perp, along);
    const shapeScale = 1 + perturbation(a.lv.shape, phi);
    if (r < endo * shapeScale) {
      if (hasPapillary) {
        for (const ang of a.papillary.angles) {
          const d = endo * shapeScale - 0.6 * papR;
          const pxm = d * Math.cos(ang);
          const pym = d * Math.sin(ang);
          if (Math.hypot(along - pxm, perp - pym) < papR) return Tissue.papillary;
        }
      }
      return Tissue.lvBlood;
    }
    if (r < epi * shapeScale) return Tissue.lvMyocardium;
    const fatT = a.fat.thicknessMm * Math.max(0.2, 1 + perturbation(a.fat.shape, phi));
    if (hasRv) {
      const ea = along - rvM;
      const rho = Math.hypot(ea / rvA, perp / rvB);
      const psi = Math.atan2(perp / rvB, ea / rvA);
      const rvScale = 1 + perturbation(a.rv.shape, psi);
      if (rho < rvScale) return Tissue.rvBlood;
      if (Math.hypot(ea / (rvA + wall), perp / (rvB + wall)) < rvScale) return Tissue.rvWall;
      if (Math.hypot(ea / (rvA + wall + fatT), perp / (rvB + wall + fatT)) < rvScale) return Tissue.epicardialFat;
    }
    if (epi > 0 && r < epi * shapeScale + fatT) return Tissue.epicardialFat;
    if (Math.hypot(x - aortaX, y - aortaY) < a.aorta.radiusMm) return Tissue.aorta;

    // Body: depth below the skin along the ray from the body centre.
    const bx = x - a.body.center[0];
    const by = y - a.body.center[1];
    const rhoB = Math.hypot(bx / bAx, by / bAy);
    const rb = Math.hypot(bx, by);
    const localR = rb === 0 ? bAy : rb / rhoB;
    const depth = (1 - rhoB) * localR;
    if (depth < 0) return Tissue.air;
    if (depth < sf) return Tissue.subcutaneousFat;
    if (depth < sf + mus) return Tissue.skeletalMuscle;
    if (Math.hypot((x - a.liver.center[0]) / a.liver.semiAxes[0], (y - liverCy) / a.liver.semiAxes[1]) < 1) {
      return Tissue.liver;
    }
    return Tissue.lung;
  }
}
