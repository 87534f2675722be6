/** The scripted demo team (see README). */
export async function runDemo(_opts: { keep: boolean }): Promise<number> {
  process.stderr.write("demo: not built yet\n");
  return 1;
}
