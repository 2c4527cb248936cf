/**
 * Kubernetes resource quantities ("250m", "0.5", "512Mi", "1G", 2): the
 * pattern the CRD and the runtime both check, and their numeric values, so
 * that processes can be sized to fit their limits and limits compared with
 * requests.
 */

/** The quantity syntax of Kubernetes (the pattern controller-gen emits for resource quantities). */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

const QUANTITY = new RegExp(QUANTITY_PATTERN);

const SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** True when `q` is a Kubernetes quantity (a non-negative integer counts). */
export function isQuantity(q: string | number): boolean {
  if (typeof q === 'number') return Number.isFinite(q);
  return QUANTITY.test(q);
}

/** The value of a quantity in base units (cores, bytes). Throws on a malformed one. */
export function quantityValue(q: string | number): number {
  if (typeof q === 'number') return q;
  if (!QUANTITY.test(q)) throw new Error(`not a quantity: ${JSON.stringify(q)}`);
  const m = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$/.exec(q);
  const num = Number(m?.[1]);
  const suffix = m?.[2] ?? '';
  if (/^[eE]/.test(suffix)) return num * 10 ** Number(suffix.slice(1));
  const factor = SUFFIX[suffix];
  if (factor === undefined) throw new Error(`not a quantity: ${JSON.stringify(q)}`);
  return num * factor;
}

/** A memory quantity in whole mebibytes, rounded down. */
export function mebibytes(q: string | number): number {
  return Math.floor(quantityValue(q) / 2 ** 20);
}
