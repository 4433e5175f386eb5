// A post script gets what main saved as STATE_<name>, and the same inputs.
const started = Number(process.env.STATE_started);
if (!Number.isFinite(started)) {
  console.log('::error::the stopwatch was never started');
  process.exit(1);
}
console.log(`stopwatch '${process.env.INPUT_LABEL}' stopped after the job's steps (${Date.now() - started} ms)`);
