// `npm test`: type-check, lint the protos, check gen/ is fresh, then every test file.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function run(title, command, args, timeoutMs = undefined) {
  console.log(`\n> ${title}`);
  const result = spawnSync(command, args, { stdio: "inherit", timeout: timeoutMs, killSignal: "SIGKILL" });
  if (result.status !== 0) {
    const why = result.signal === "SIGKILL" ? ` (still running after ${timeoutMs / 60_000} minutes, killed)` : "";
    console.error(`\n${title} failed${why}`);
    process.exit(result.status ?? 1);
  }
}

function testFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return testFiles(path);
    return path.endsWith(".test.ts") ? [path] : [];
  });
}

run("type-check (tsc --strict)", "npx", ["tsc", "-p", "tsconfig.json"]);
run("buf lint", "npx", ["buf", "lint"]);
const fresh = mkdtempSync(join(tmpdir(), "ims-gen-"));
try {
  run("generate into a temporary folder", "npx", ["buf", "generate", "--output", fresh]);
  run("gen/ is up to date with proto/ (else run `npm run generate`)", "diff", ["-r", "gen", join(fresh, "gen")]);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
const files = testFiles("test").sort();
// Not --test-force-exit: with concurrency it can drop test verdicts and still
// pass (nodejs/node#64833). A failed test that leaves a server open would hang
// the run instead, so the run has a deadline (it takes about a minute).
run(`tests (${files.length} files)`, process.execPath, [
  "--import", "tsx", "--test", "--test-concurrency=2", ...files,
], 15 * 60_000);
