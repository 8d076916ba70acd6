/**
 * Reading the verifier log: which lines decide a rejection, which instruction it stopped at, and
 * which C source line that instruction came from.
 */

/** A line-info record: instruction index in the loaded program and the C source it came from. */
export interface SourceLine {
  insnOff: number;
  fileName: string;
  line: number;
  col: number;
  text: string;
}

const noise = [
  /^processed \d+ insns/,
  /^verification time/,
  /^stack depth/,
  /^-- END PROG LOAD LOG --/,
  /^mark_precise:/,
  /^last_idx /,
  /^regs=/,
  /^parent (didn't|already|has)/,
  /^\s*$/,
];

const insnLine = /^(\d+): \([0-9a-f]{2}\)/;

/** The summary of a verifier log: the decisive lines, the failing instruction, and its source line. */
export interface LogSummary {
  lines: string[];
  instruction?: number;
  source?: SourceLine;
}

/** Picks the lines that explain a rejection (the last meaningful lines), and maps them to C source. */
export function summarizeLog(log: string, lineInfo: readonly SourceLine[] = []): LogSummary {
  const lines = log.split("\n").map((l) => l.trimEnd());
  const meaningful = lines.filter((l) => !noise.some((re) => re.test(l)));
  let instruction: number | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = insnLine.exec(lines[i]!);
    if (m) {
      instruction = Number(m[1]);
      break;
    }
  }
  // The decisive message is the last meaningful line; the instruction line before it gives context.
  const tail: string[] = [];
  for (let i = meaningful.length - 1; i >= 0 && tail.length < 2; i--) {
    const l = meaningful[i]!;
    if (l.startsWith(";")) continue; // source comments the kernel interleaves
    tail.unshift(l);
    if (insnLine.test(l)) break;
  }
  const source = instruction === undefined ? undefined : sourceFor(lineInfo, instruction);
  return { lines: tail, instruction, source };
}

/** The line-info record covering instruction `insn` (the last record at or before it). */
export function sourceFor(lineInfo: readonly SourceLine[], insn: number): SourceLine | undefined {
  let best: SourceLine | undefined;
  for (const li of lineInfo) {
    if (li.insnOff <= insn && (!best || li.insnOff >= best.insnOff)) best = li;
  }
  return best;
}

/** "file.c:42: text" for a source line. */
export function formatSource(s: SourceLine): string {
  const file = s.fileName.split("/").pop() ?? s.fileName;
  return `${file}:${s.line}: ${s.text.trim()}`;
}
