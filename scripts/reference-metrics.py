#!/usr/bin/python3
"""Reference values for the metrics tests (test/metrics-reference.test.ts).

Run once with Debian's Python (numpy, scipy, scikit-learn):

    /usr/bin/python3 scripts/reference-metrics.py

It draws seeded random inputs, computes the reference outputs with scikit-learn
(roc_auc_score, average_precision_score, brier_score_loss), scipy
(ndimage.distance_transform_edt with sampling=, ndimage.binary_erosion, stats.spearmanr)
and plain numpy where no library defines the metric (ECE, NLL, AURC, uncertainty maps), and
writes inputs and outputs to test/fixtures/metrics-reference.json.

Layout conventions match the TypeScript side: label maps and masks are flattened x fastest
(numpy arrays shaped (nz, ny, nx) in C order, so scipy's sampling is (dz, dy, dx));
probabilities are class-major, probs[c*P + p].
"""
import json
import os

import numpy as np
import scipy
import sklearn
from scipy import ndimage, stats
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

rng = np.random.default_rng(20240611)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'metrics-reference.json')


def flat(a):
    """Flattens x fastest (C order of a (nz, ny, nx) array) into a list."""
    return np.ascontiguousarray(a).ravel().tolist()


def f32(a):
    """float32-rounded values (as float64), the numbers both sides compute with."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def f32_list(a):
    """float32 values written in their shortest decimal form: Float32Array.from() reads back the
    very same float32 numbers, in half the characters of a float64 repr."""
    return [float(np.format_float_positional(v, unique=True)) for v in np.asarray(a, np.float32).ravel()]


# ---------------------------------------------------------------- distance transform
def edt_case(shape_zyx, spacing_xyz, p):
    feat = rng.random(shape_zyx) < p
    sampling = tuple(reversed(spacing_xyz))[-len(shape_zyx):]
    d = ndimage.distance_transform_edt(~feat, sampling=sampling)
    dims = list(reversed(shape_zyx))
    return {'dims': dims, 'spacing': list(spacing_xyz)[:len(dims)], 'features': flat(feat.astype(np.uint8)),
            'distance': flat(d)}


edt = [
    edt_case((5, 7, 9), (0.7, 1.3, 2.5), 0.05),
    edt_case((8, 11), (1.0, 1.0), 0.08),
    edt_case((6, 10), (0.5, 2.0), 0.03),
]


# ---------------------------------------------------------------- label maps
def heart(shape_zyx, centre, r_lv, r_myo, rv_off, r_rv, noise):
    """A cardiac-like label map: LV disc (1), MYO ring (2), RV disc (3), with noisy borders."""
    idx = np.indices(shape_zyx)
    yy, xx = idx[-2], idx[-1]
    r = np.hypot(xx - centre[0], yy - centre[1]) + noise * rng.standard_normal(shape_zyx)
    r_rv_map = np.hypot(xx - centre[0] - rv_off, yy - centre[1]) + noise * rng.standard_normal(shape_zyx)
    lab = np.zeros(shape_zyx, np.uint8)
    lab[r_rv_map < r_rv] = 3
    lab[r < r_myo] = 2
    lab[r < r_lv] = 1
    return lab


def edges(m):
    return ndimage.binary_erosion(m) ^ m


def surface_ref(pred, gt, sampling_zyx, classes, percentile):
    """MONAI's definitions: HD = max of the two directed percentiles; ASSD = mean of both sets."""
    hd, assd = [], []
    for c in classes:
        p, g = pred == c, gt == c
        if not p.any() and not g.any():
            hd.append({'value': None, 'reason': 'both-empty'})
            assd.append({'value': None, 'reason': 'both-empty'})
            continue
        if not p.any() or not g.any():
            hd.append({'value': None, 'reason': 'missing'})
            assd.append({'value': None, 'reason': 'missing'})
            continue
        ep, eg = edges(p), edges(g)
        d_pg = ndimage.distance_transform_edt(~eg, sampling=sampling_zyx)[ep]
        d_gp = ndimage.distance_transform_edt(~ep, sampling=sampling_zyx)[eg]
        hd.append({'value': float(max(np.percentile(d_pg, percentile), np.percentile(d_gp, percentile)))})
        assd.append({'value': float(np.concatenate([d_pg, d_gp]).mean())})
    return hd, assd


def dice_ref(pred, gt, classes):
    out = []
    for c in classes:
        p, g = pred == c, gt == c
        s = p.sum() + g.sum()
        out.append({'value': None, 'reason': 'both-empty'} if s == 0 else {'value': float(2 * (p & g).sum() / s)})
    return out


def surface_case(name, shape_zyx, spacing_xyz, spacing_known, percentile, drop_pred=None, drop_both=None):
    gt = heart(shape_zyx, (shape_zyx[-1] / 2 - 2, shape_zyx[-2] / 2), 3.5, 5.5, 6.5, 4.5, 0.6)
    pred = heart(shape_zyx, (shape_zyx[-1] / 2 - 1.5, shape_zyx[-2] / 2 + 0.5), 3.8, 5.2, 7.0, 4.0, 0.8)
    if drop_pred is not None:
        pred[pred == drop_pred] = 0
    if drop_both is not None:
        pred[pred == drop_both] = 0
        gt[gt == drop_both] = 0
    dims = list(reversed(shape_zyx))
    sp = list(spacing_xyz)[:len(dims)] if spacing_known else [1.0] * len(dims)
    sampling = tuple(reversed(sp))
    classes = [1, 2, 3]
    hd, assd = surface_ref(pred, gt, sampling, classes, percentile)
    return {'name': name, 'dims': dims, 'spacing': list(spacing_xyz)[:len(dims)], 'spacingKnown': spacing_known,
            'percentile': percentile, 'pred': flat(pred), 'target': flat(gt), 'classes': classes,
            'hausdorff': hd, 'assd': assd, 'dice': dice_ref(pred, gt, classes)}


surface = [
    surface_case('2d isotropic mm', (24, 26), (1.25, 1.25), True, 95),
    surface_case('3d anisotropic mm', (5, 22, 24), (1.5, 1.2, 8.0), True, 95),
    surface_case('3d anisotropic, RV missing in pred, HD100', (4, 20, 22), (0.9, 1.4, 6.5), True, 100,
                 drop_pred=3),
    surface_case('2d px (spacing unknown), MYO in neither', (20, 22), (1.7, 1.7), False, 95, drop_both=2),
]

# ---------------------------------------------------------------- calibration
NY, NX, C = 26, 30, 4
cal_gt = heart((1, NY, NX), (12, 13), 3.0, 5.0, 6.0, 4.0, 0.5)[0]
yy_, xx_ = np.indices((NY, NX))
near = np.hypot(xx_ - 14, yy_ - 13) < 11  # uncertain near the heart, confident far from it
logits = np.where(near, 2.5, 7.0)[..., None] * np.eye(C)[cal_gt] + 1.2 * rng.standard_normal((NY, NX, C))
probs_yxc = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
probs = f32(np.moveaxis(probs_yxc, -1, 0).reshape(C, -1))  # class-major (C, P)
target = cal_gt.ravel()
P = target.size


def calib_ref(mask, bins):
    sel = mask.ravel().astype(bool)
    pr, t = probs[:, sel], target[sel]
    pred = pr.argmax(0)
    conf = pr.max(0)
    b = np.clip(np.ceil(conf * bins) - 1, 0, bins - 1).astype(int)
    count = np.bincount(b, minlength=bins).astype(float)
    conf_sum = np.bincount(b, weights=conf, minlength=bins)
    corr = np.bincount(b, weights=(pred == t).astype(float), minlength=bins)
    nz = count > 0
    mean_conf = np.where(nz, conf_sum / np.maximum(count, 1), np.nan)
    acc = np.where(nz, corr / np.maximum(count, 1), np.nan)
    gap = np.abs(acc - mean_conf)
    ece = float(np.nansum(count / sel.sum() * gap))
    mce = float(np.nanmax(gap))
    onehot = np.eye(C)[t].T
    nll = float(-np.log(np.maximum(pr[t, np.arange(t.size)], 1e-12)).mean())
    brier = float(((pr - onehot) ** 2).sum(0).mean())
    brier_c = [float(brier_score_loss(t == c, pr[c])) for c in range(C)]
    nanlist = lambda a: [None if np.isnan(v) else float(v) for v in a]
    return {'bins': bins, 'ece': ece, 'mce': mce, 'count': count.tolist(), 'meanConfidence': nanlist(mean_conf),
            'accuracy': nanlist(acc), 'nll': nll, 'brier': brier, 'brierPerClass': brier_c, 'n': int(sel.sum())}


margin = 3
pred_lab = probs.argmax(0).reshape(NY, NX)
fg = (cal_gt != 0) | (pred_lab != 0)
roi = (ndimage.distance_transform_edt(~fg) <= margin).astype(np.uint8)
calibration = {
    'dims': [NX, NY], 'numClasses': C, 'probs': f32_list(probs), 'target': target.tolist(),
    'margin': margin, 'roi': flat(roi),
    'all': calib_ref(np.ones_like(roi), 15),
    'roiResult': calib_ref(roi, 15),
    'all10': calib_ref(np.ones_like(roi), 10),
}


# ---------------------------------------------------------------- ranking
def risk_coverage_ref(u, err):
    """Step integral over the distinct uncertainty values, covering the most certain first."""
    ts = np.unique(u)
    cov, risk = [], []
    for t in ts:
        covered = u <= t
        cov.append(covered.mean())
        risk.append(err[covered].mean())
    cov, risk = np.array(cov), np.array(risk)
    aurc = float(np.sum(np.diff(np.concatenate([[0.0], cov])) * risk))
    n, e = err.size, int(err.sum())
    optimal = float(sum((i - (n - e)) / i for i in range(n - e + 1, n + 1)) / n)
    return ts.tolist(), cov.tolist(), risk.tolist(), aurc, optimal


def overlap_ref(u, err, thresholds):
    def d(t):
        a = u >= t
        return float(2 * (a & err).sum() / (a.sum() + err.sum()))
    best_t, best = None, -1.0
    for t in np.unique(u)[::-1]:  # descending, first maximum wins (highest threshold)
        v = d(t)
        if v > best:
            best, best_t = v, float(t)
    return [d(t) for t in thresholds], best_t, best


def ranking_case(name, n, ties, use_mask):
    u = rng.random(n)
    err = (rng.random(n) < 0.15 + 0.6 * u ** 2)
    if ties:
        u = np.round(u, 1)
    mask = rng.random(n) < 0.7 if use_mask else np.ones(n, bool)
    us, es = u[mask], err[mask]
    thresholds = [0.2, 0.5, 0.8]
    ts, cov, risk, aurc, optimal = risk_coverage_ref(us, es)
    dices, best_t, best = overlap_ref(us, es, thresholds)
    case = {'name': name, 'scores': u.tolist(), 'labels': err.astype(int).tolist(),
            'auroc': float(roc_auc_score(es, us)), 'averagePrecision': float(average_precision_score(es, us)),
            'thresholds': ts, 'coverage': cov, 'risk': risk, 'aurc': aurc, 'optimalAurc': optimal,
            'overlapThresholds': thresholds, 'overlapDice': dices, 'bestThreshold': best_t, 'bestDice': best}
    if use_mask:
        case['mask'] = mask.astype(int).tolist()
    if not ties:
        # Geifman's definition, one sample at a time, agrees when there are no ties.
        order = np.argsort(us, kind='stable')
        cum = np.cumsum(es[order]) / np.arange(1, us.size + 1)
        case['aurcGeifman'] = float(cum.mean())
    return case


ranking = [
    ranking_case('continuous', 300, False, False),
    ranking_case('tied scores (1 decimal)', 300, True, False),
    ranking_case('tied scores with mask', 300, True, True),
]

# ---------------------------------------------------------------- Spearman and failure detection
x = rng.standard_normal(40)
y = np.round(-0.6 * x + 0.8 * rng.standard_normal(40), 1)
x[:6] = np.round(x[:6])  # a few ties in x as well
spearman = {'a': x.tolist(), 'b': y.tolist(), 'rho': float(stats.spearmanr(x, y).statistic),
            'ranksB': stats.rankdata(y).tolist()}

n_cases = 30
scores = rng.random(n_cases)
dice = np.clip(0.95 - 0.3 * scores + 0.08 * rng.standard_normal(n_cases), 0, 1)
dice = np.round(dice, 3)
dice_with_nan = dice.copy()
dice_with_nan[[4, 17]] = np.nan
keep = ~np.isnan(dice_with_nan)
failed = dice_with_nan[keep] < 0.8
failure = {'scores': scores.tolist(), 'dice': [None if np.isnan(v) else float(v) for v in dice_with_nan],
           'threshold': 0.8, 'n': int(keep.sum()), 'excluded': int((~keep).sum()), 'failures': int(failed.sum()),
           'auroc': float(roc_auc_score(failed, scores[keep])),
           'spearman': float(stats.spearmanr(scores[keep], dice_with_nan[keep]).statistic)}

# ---------------------------------------------------------------- uncertainty maps
S, Pu = 5, 60
samples = f32(rng.dirichlet(np.full(C, 0.7), size=(S, Pu)))  # (S, P, C)
samples = np.moveaxis(samples, -1, 1)  # (S, C, P) class-major


def ent(p):
    with np.errstate(divide='ignore', invalid='ignore'):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-2)


mean = samples.mean(0)
pe = ent(mean)
ee = ent(samples).mean(0)
uncertainty = {'numClasses': C, 'samples': [f32_list(s) for s in samples], 'mean': mean.ravel().tolist(),
               'predictiveEntropy': pe.tolist(), 'expectedEntropy': ee.tolist(),
               'mutualInformation': np.maximum(pe - ee, 0).tolist(), 'variance': samples.var(0).ravel().tolist()}

doc = {
    'generator': 'scripts/reference-metrics.py',
    'versions': {'numpy': np.__version__, 'scipy': scipy.__version__, 'sklearn': sklearn.__version__},
    'edt': edt, 'surface': surface, 'calibration': calibration, 'ranking': ranking,
    'spearman': spearman, 'failure': failure, 'uncertainty': uncertainty,
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as fh:
    json.dump(doc, fh, separators=(',', ':'), allow_nan=False)
print(f'wrote {OUT}: {os.path.getsize(OUT)} bytes')
