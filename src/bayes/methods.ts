/**
 * The methods hmcseg trains. Each returns the same thing, a sample store of weight samples, so
 * prediction and uncertainty never branch on the method.
 * - `deterministic`: one network (SGD with momentum).
 * - `mcdropout`: one network with dropout, kept active at prediction (K passes).
 * - `ensemble`: M networks from different seeds.
 * - `hmc`: HMC-CP — SGHMC with a cold posterior and cyclical step-size annealing, one network's budget.
 * - `sgd-trajectory`: the same cyclical run at T = 0 (samples from the SGD trajectory).
 */
export const METHODS = ['deterministic', 'mcdropout', 'ensemble', 'hmc', 'sgd-trajectory'] as const;
export type Method = (typeof METHODS)[number];
