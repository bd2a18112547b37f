/**
 * A 53-bit hash of a string, for remembering that a long string was seen without keeping it: a
 * number per entry instead of the string. Two 32-bit FNV-1a lanes over the UTF-16 code units,
 * started from different offsets and mixed at the end; two different strings share a hash with a
 * chance in the order of 2^-53, far below anything a controller's lifetime can meet.
 */
const FNV_PRIME = 16777619
const FNV_OFFSET = 2166136261

export const hash53 = (text: string): number => {
  let a = FNV_OFFSET
  let b = FNV_OFFSET ^ 0x5bd1e995
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, FNV_PRIME)
    b = Math.imul(b ^ (c + i), FNV_PRIME)
  }
  // Let each lane's high bits reach the other's low ones before 21 + 32 bits are kept.
  a ^= b >>> 15
  b = Math.imul(b ^ (a >>> 13), FNV_PRIME)
  return (b >>> 11) * 4294967296 + (a >>> 0)
}
