import { Prisma } from '../database';

/**
 * Active devices over many buckets without their ids: a HyperLogLog sketch per bucket
 * (Flajolet et al. 2007) of m = 4096 one-byte registers over PostgreSQL's 64-bit
 * hashtextextended(deviceId, 0): the low 12 bits pick the register, which keeps the
 * largest rank (leading zeros + 1) of the other 52 bits. Sketches merge exactly (the
 * register-wise max), so a day's is its hours', and a window's the merge of its buckets'
 * and of its raw rows'. Relative standard error 1.04 / sqrt(4096) = 1.625% (about 3.3%
 * at two standard errors); small counts use linear counting, nearly exact. The summary
 * counts exactly instead whenever every bucket of the window listed all its devices
 * (at most DEVICE_LIST_SIZE of them): see MetricDeviceSketch.floor.
 */
export const SKETCH_BITS = 12;
export const SKETCH_REGISTERS = 2 ** SKETCH_BITS;
export const DEVICE_COUNT_STANDARD_ERROR = 1.04 / Math.sqrt(SKETCH_REGISTERS);
/** Devices listed per 10 minutes and per hour (the busiest), with their exact counts. */
export const DEVICE_LIST_SIZE = 100;

const RANK_MASK = Prisma.raw(`${2 ** (64 - SKETCH_BITS) - 1}`);
const BITS = Prisma.raw(`${SKETCH_BITS}`);
const LAST_REGISTER = Prisma.raw(`${SKETCH_REGISTERS - 1}`);
const NO_ONE_RANK = Prisma.raw(`${65 - SKETCH_BITS}`);
const RANK_BITS = Prisma.raw(`${64 - SKETCH_BITS}`);

/** Registers (register, rank) as the sketch's bytea, absent registers 0. */
export function encodeRegisters(ranked: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    SELECT decode(string_agg(lpad(to_hex(coalesce(rank, 0)), 2, '0'), '' ORDER BY register), 'hex') AS registers
      FROM generate_series(0, ${LAST_REGISTER}) AS register LEFT JOIN (${ranked}) AS ranked USING (register)`;
}

/** The register-wise max of the sketches in `sketches` (a relation with a registers column). */
export function mergedSketch(sketches: Prisma.Sql): Prisma.Sql {
  return encodeRegisters(Prisma.sql`
    SELECT register, max(get_byte(s.registers, register)) AS rank
      FROM ${sketches} AS s CROSS JOIN generate_series(0, ${LAST_REGISTER}) AS register
     GROUP BY register`);
}

/** The register (0 to SKETCH_REGISTERS - 1) a 64-bit hash `h` (bigint SQL) falls in. */
export function sketchRegister(h: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(${h} & ${LAST_REGISTER})::int`;
}

/** The rank a 64-bit hash `h` (bigint SQL) gives its register: leading zeros of its other bits, plus one. */
export function sketchRank(h: Prisma.Sql): Prisma.Sql {
  const rest = Prisma.sql`((${h} >> ${BITS}) & ${RANK_MASK})`;
  return Prisma.sql`CASE WHEN ${rest} = 0 THEN ${NO_ONE_RANK}
                         ELSE ${RANK_BITS} - floor(ln(${rest}::float8) / ln(2::float8))::int END`;
}

/** A device id's 64-bit hash (SQL), the one every sketch is made of. */
export function deviceHash(deviceId: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`hashtextextended(${deviceId}, 0)`;
}

/** The sketch (bytea, SKETCH_REGISTERS bytes) of the non-null deviceIds of raw rows `source` (aliased m). */
export function rawDeviceSketch(source: Prisma.Sql): Prisma.Sql {
  const hashed = Prisma.sql`(SELECT ${deviceHash(Prisma.sql`m."deviceId"`)} AS h FROM ${source} WHERE m."deviceId" IS NOT NULL) AS hashed`;
  return encodeRegisters(rankedRegisters(Prisma.sql`h`, hashed));
}

/** Each register the hashes `h` (bigint SQL) of `source` set, with its highest rank: (register, rank) rows. */
function rankedRegisters(h: Prisma.Sql, source: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`SELECT ${sketchRegister(h)} AS register, max(${sketchRank(h)}) AS rank FROM ${source} GROUP BY 1`;
}

/** Ranks are at most 65 - SKETCH_BITS, so a register and its rank pack as register * RANK_SPAN + rank. */
const RANK_SPAN = 64;

/**
 * The sketch of the hashes `h` of `source` (SQL) as text: register * 64 + rank of each
 * register set, comma-separated. About a quarter of the cost of the bytea of every
 * register (encodeRegisters) for a few thousand devices.
 */
export function packedSketch(h: Prisma.Sql, source: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    SELECT string_agg((register * ${Prisma.raw(String(RANK_SPAN))} + rank)::text, ',')
      FROM (${rankedRegisters(h, source)}) AS ranked`;
}

/** The registers of a packedSketch. */
export function unpackSketch(text: string | null): Uint8Array {
  const registers = new Uint8Array(SKETCH_REGISTERS);
  for (const item of text ? text.split(',') : []) {
    const packed = Number(item);
    if (!(packed >= 0 && packed < SKETCH_REGISTERS * RANK_SPAN)) throw new Error('a sketch register out of range');
    registers[Math.floor(packed / RANK_SPAN)] = packed % RANK_SPAN;
  }
  return registers;
}

/** Register-wise max of `sketches` into `into`. */
export function mergeSketches(into: Uint8Array, sketches: Iterable<Uint8Array>): Uint8Array {
  for (const sketch of sketches) {
    for (let i = 0; i < SKETCH_REGISTERS; i += 1) if (sketch[i] > into[i]) into[i] = sketch[i];
  }
  return into;
}

/** The HyperLogLog estimate of the number of distinct devices, rounded. */
export function estimateDevices(registers: Uint8Array): number {
  const m = SKETCH_REGISTERS;
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < m; i += 1) {
    sum += 2 ** -registers[i];
    if (registers[i] === 0) zeros += 1;
  }
  const alpha = 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / sum;
  if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
  return Math.round(raw);
}
