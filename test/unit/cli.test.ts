// The tsbpf command without the kernel: help and usage errors of every command group (exit codes
// 0 and 2), and the pure helpers the commands use to read keys and values and draw histograms.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { formatValue, parseBytes, parseJsonExact, parseScalar } from "../../src/cli/common.js";
import { log2Bars } from "../../src/cli/render.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function tsbpf(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, "bin", "tsbpf.js"), ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("every command group has --help (exit 0) that names its commands", () => {
  const groups: Record<string, RegExp> = {
    prog: /prog loadall OBJ \[PINDIR\]/, map: /map lookup ID\|PIN --key K/, link: /link list/, run: /usage: tsbpf run OBJ/,
    trace: /usage: tsbpf trace/, feature: /usage: tsbpf feature/, btf: /btf dump \[FILE\]/, disasm: /usage: tsbpf disasm OBJ/,
    inspect: /usage: tsbpf inspect OBJ/, gen: /gen skeleton OBJ/,
  };
  for (const [g, re] of Object.entries(groups)) {
    const r = tsbpf(g, "--help");
    assert.equal(r.code, 0, `${g} --help: ${r.stderr}`);
    assert.match(r.stdout, re, g);
    assert.match(tsbpf("help", g).stdout, re, `help ${g}`);
  }
  const top = tsbpf("--help");
  assert.equal(top.code, 0);
  for (const c of ["inspect", "disasm", "gen skeleton", "btf dump", "prog loadall", "map lookup", "link list", "run OBJ", "trace", "feature"]) assert.ok(top.stdout.includes(c), c);
  assert.equal(tsbpf().code, 2, "no command is a usage error");
});

test("usage errors exit 2 with the group's usage; the message names the problem", () => {
  const cases: Array<[string[], RegExp]> = [
    [["map"], /usage: tsbpf map/],
    [["map", "frob"], /unknown command: map frob/],
    [["map", "lookup", "1"], /map lookup: --key is required/],
    [["map", "update", "1", "--key", "1"], /map update: --value is required/],
    [["map", "delete", "1", "--key", "1", "--value", "2"], /--value, --noexist and --exist are for map update/],
    [["map", "dump"], /map dump needs a map id or a pinned path/],
    [["map", "dump", "1", "--frob"], /map dump: unknown option --frob/],
    [["map", "pin", "1"], /map pin needs/],
    [["prog", "loadall"], /prog loadall needs an object file/],
    [["prog", "loadall", "x.o", "--rodata", "novalue"], /--rodata takes NAME=VALUE/],
    [["prog", "show", "1", "2"], /prog show takes one/],
    [["link", "show"], /link show needs/],
    [["run"], /run needs one object file/],
    [["run", "x.o", "--interval", "0"], /--interval must be a positive number of seconds/],
    [["run", "x.o", "--duration", "soon"], /--duration must be/],
    [["trace", "extra"], /trace takes no arguments/],
    [["trace", "--count", "-1"], /trace: .*--count|--count must be/],
    [["feature", "--bogus"], /feature: unknown option --bogus/],
    [["btf", "dump", "--format", "yaml"], /--format must be c or raw/],
    [["frobnicate"], /unknown command: frobnicate/],
  ];
  for (const [args, re] of cases) {
    const r = tsbpf(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.match(r.stderr, /usage: tsbpf/, args.join(" "));
  }
});

test("inspect of a missing object exits 1 with one line", () => {
  const r = tsbpf("inspect", "/nonexistent.bpf.o");
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "tsbpf: open object /nonexistent.bpf.o: no such file\n");
});

test("parseBytes reads integers (little-endian, two's complement) and hex bytes as map dump prints them", () => {
  assert.deepEqual(parseBytes("7", 4, "k"), Uint8Array.from([7, 0, 0, 0]));
  assert.deepEqual(parseBytes("0x0102", 2, "k"), Uint8Array.from([2, 1]));
  assert.deepEqual(parseBytes("-1", 8, "k"), new Uint8Array(8).fill(255));
  assert.deepEqual(parseBytes("18446744073709551615", 8, "k"), new Uint8Array(8).fill(255));
  assert.deepEqual(parseBytes("01 00 0a ff", 4, "k"), Uint8Array.from([1, 0, 10, 255]));
  assert.deepEqual(parseBytes("01:00:0a:ff", 4, "k"), Uint8Array.from([1, 0, 10, 255]));
  assert.deepEqual(parseBytes("hex:01000aff", 4, "k"), Uint8Array.from([1, 0, 10, 255]));
  assert.throws(() => parseBytes("256", 1, "key"), /key: 256 does not fit in 1 bytes/);
  assert.throws(() => parseBytes("-129", 1, "key"), /does not fit/);
  assert.throws(() => parseBytes("01 02", 4, "key"), /key: 2 bytes given, the map wants 4/);
  assert.throws(() => parseBytes("abc", 4, "key"), /cannot read "abc"; give an integer/);
});

test("parseJsonExact keeps 64-bit integers exact; parseScalar reads --rodata values", () => {
  assert.deepEqual(parseJsonExact('{"a": 18446744073709551615, "b": [1, -9007199254740993], "s": "12345678901234567890", "f": 1.5e300}'),
    { a: 18446744073709551615n, b: [1, -9007199254740993n], s: "12345678901234567890", f: 1.5e300 });
  assert.equal(parseScalar("42"), 42);
  assert.equal(parseScalar("0x10"), 16);
  assert.equal(parseScalar("9007199254740993"), 9007199254740993n);
  assert.equal(parseScalar("true"), true);
  assert.equal(parseScalar("eth0"), "eth0");
  assert.deepEqual(parseScalar("[1,2]"), [1, 2]);
});

test("formatValue prints decoded values on one line; log2Bars draws bcc's histogram, the last slot open-ended", () => {
  assert.equal(formatValue({ a: 1n, s: "x", b: Uint8Array.from([1, 255]), n: [{ p: 1 }] }), '{ a: 1, s: "x", b: [01 ff], n: [{ p: 1 }] }');
  const slots = [0, 1, 0, 0, 0, 0, 8, 4];
  assert.equal(log2Bars(slots), [
    "     value               : count    distribution",
    "         0 -> 1          : 0        |                                        |",
    "         2 -> 3          : 1        |*****                                   |",
    "         4 -> 7          : 0        |                                        |",
    "         8 -> 15         : 0        |                                        |",
    "        16 -> 31         : 0        |                                        |",
    "        32 -> 63         : 0        |                                        |",
    "        64 -> 127        : 8        |****************************************|",
    "       128 -> ...        : 4        |********************                    |",
  ].join("\n"));
  // The array's last slot collects everything above; a slot before it is a closed range.
  assert.equal(log2Bars([0, 0, 3, 0]).split("\n").at(-1), "         4 -> 7          : 3        |****************************************|");
  assert.equal(log2Bars([0, 0]), "");
});
