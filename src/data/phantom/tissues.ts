/**
 * Tissues of the cardiac phantom, their relaxation times at 1.5 T, and the signal models that turn
 * them into image contrast.
 */

/** Tissue codes of the phantom's tissue map (not segmentation classes; see {@link TISSUE_LABEL}). */
export const Tissue = {
  air: 0,
  lvBlood: 1,
  lvMyocardium: 2,
  rvBlood: 3,
  /** RV free wall: myocardium, but not a labelled class (ACDC labels the RV cavity only). */
  rvWall: 4,
  /** Papillary muscles: myocardium, labelled as LV cavity (the ACDC convention). */
  papillary: 5,
  epicardialFat: 6,
  liver: 7,
  lung: 8,
  skeletalMuscle: 9,
  subcutaneousFat: 10,
  /** Descending aorta: blood outside the labelled structures, a realistic distractor. */
  aorta: 11,
} as const;
export type Tissue = (typeof Tissue)[keyof typeof Tissue];

/** Number of tissue codes (codes are 0 … TISSUE_COUNT − 1). */
export const TISSUE_COUNT = 12;

/**
 * Segmentation class of each tissue code, in the project's classes (0 background, 1 LV cavity,
 * 2 LV myocardium, 3 RV cavity). Indexed by tissue code.
 */
export const TISSUE_LABEL: readonly number[] = [0, 1, 2, 3, 0, 1, 0, 0, 0, 0, 0, 0];

/** Relaxation times in ms and proton density relative to pure water. */
export interface TissueProperties {
  readonly t1: number;
  readonly t2: number;
  readonly pd: number;
}

/**
 * 1.5 T tissue properties, one entry per material.
 *
 * T1 of blood and myocardium is the *apparent* T1 that a MOLLI map reports in vivo (MOLLI's known
 * underestimation of the true T1 — mostly magnetization transfer and the bSSFP readout — is part
 * of these values, so the T1 map looks like a clinical MOLLI map); other tissues use the T1 from
 * inversion-recovery measurements. The bSSFP model uses the same numbers; the few per cent of
 * MOLLI bias do not change the cine contrast order.
 *
 * Proton densities are approximate water contents (fraction of pure water); only their ratios
 * matter for the weighted image.
 *
 * - blood: T1 1,550 ms — native MOLLI blood T1 at 1.5 T is typically 1,500–1,600 ms (hematocrit
 *   dependent), Kellman & Hansen 2014 JCMR 16:2 "T1-mapping in the heart: accuracy and precision"
 *   and Messroghli et al. 2007 Radiology (MOLLI blood pool). T2 250 ms — oxygenated (arterial)
 *   blood at 1.5 T, Wright et al. 1991 JMRI 1:275 "Estimating oxygen saturation of blood in vivo
 *   with MR imaging at 1.5 T" (≈250 ms at Hct ≈ 0.4). PD 0.90.
 * - myocardium: T1 1,000 ms — native MOLLI myocardium at 1.5 T 950–1,050 ms (Messroghli et al.
 *   2004 MRM 52:141 and 2007; Kellman & Hansen 2014). T2 52 ms — Giri et al. 2009 JCMR 11:56
 *   "T2 quantification for improved detection of myocardial edema" (52.2 ± 3.4 ms, T2-prepared
 *   SSFP, healthy volunteers). PD 0.80 (≈ 78–80 % water).
 * - fat (epicardial/pericardial and subcutaneous): T1 343 ms, T2 58 ms — subcutaneous fat at
 *   1.5 T, de Bazelaire et al. 2004 Radiology 230:652 "MR imaging relaxation times of abdominal
 *   and pelvic tissues measured in vivo at 3.0 T: preliminary results" (their 1.5 T column:
 *   343 ± 37 ms, 58 ± 4 ms). PD 0.90.
 * - liver: T1 586 ms, T2 46 ms — de Bazelaire et al. 2004, 1.5 T (586 ± 39 ms, 46 ± 6 ms). PD 0.70.
 * - skeletal muscle (chest wall): T1 856 ms, T2 27 ms — paravertebral muscle at 1.5 T, de Bazelaire
 *   et al. 2004 (856 ± 61 ms, 27 ± 8 ms). PD 0.75.
 * - lung: T1 1,200 ms — lung parenchyma at 1.5 T ≈ 1,200–1,300 ms (Stadler et al. 2005 JMRI 21:759
 *   "T1 mapping of the entire lung parenchyma"). T2 70 ms is a rough value (spin-echo T2 of lung is
 *   poorly characterised; its short T2* and PD ≈ 0.15 make lung dark in any case). PD 0.15.
 * - air: no signal; maps show 0 there (scanners mask the background of parametric maps).
 */
export const MATERIALS = {
  blood: { t1: 1550, t2: 250, pd: 0.9 },
  myocardium: { t1: 1000, t2: 52, pd: 0.8 },
  fat: { t1: 343, t2: 58, pd: 0.9 },
  liver: { t1: 586, t2: 46, pd: 0.7 },
  skeletalMuscle: { t1: 856, t2: 27, pd: 0.75 },
  lung: { t1: 1200, t2: 70, pd: 0.15 },
  air: { t1: 0, t2: 0, pd: 0 },
} as const satisfies Record<string, TissueProperties>;

/** Properties of each tissue code, indexed by code. */
export const TISSUE_PROPERTIES: readonly TissueProperties[] = [
  MATERIALS.air,
  MATERIALS.blood,
  MATERIALS.myocardium,
  MATERIALS.blood,
  MATERIALS.myocardium,
  MATERIALS.myocardium,
  MATERIALS.fat,
  MATERIALS.liver,
  MATERIALS.lung,
  MATERIALS.skeletalMuscle,
  MATERIALS.fat,
  MATERIALS.blood,
];

/**
 * On-resonance balanced SSFP steady-state magnitude for TR ≪ T2 (Scheffler & Lehnhardt 2003,
 * Eur Radiol 13:2409):
 *
 * S = PD · sin α / ((T1/T2 + 1) − cos α · (T1/T2 − 1))
 *
 * @param props - tissue T1, T2 (ms) and PD; a tissue with PD 0 or T2 0 gives 0.
 * @param flipAngleDeg - flip angle α in degrees (cine uses 50–60°).
 * @returns the signal in units of the equilibrium magnetization of pure water.
 */
export function bssfpSignal(props: TissueProperties, flipAngleDeg: number): number {
  if (props.pd === 0 || props.t2 === 0) return 0;
  const a = (flipAngleDeg * Math.PI) / 180;
  const r = props.t1 / props.t2;
  return (props.pd * Math.sin(a)) / (r + 1 - Math.cos(a) * (r - 1));
}
