const fs = require('fs');
// core.getInput: INPUT_ and the input's name in capitals.
const version = process.env.INPUT_VERSION.trim();
const bump = process.env.INPUT_BUMP.trim();
// A name with '-' keeps it, as core.getInput('pre-release') reads it.
const preRelease = (process.env['INPUT_PRE-RELEASE'] || '').trim();
const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
if (!match) {
  console.log(`::error::'${version}' is not MAJOR.MINOR.PATCH`);
  process.exit(1);
}
let [major, minor, patch] = match.slice(1).map(Number);
if (bump === 'major') { major += 1; minor = 0; patch = 0; }
else if (bump === 'minor') { minor += 1; patch = 0; }
else if (bump === 'patch') { patch += 1; }
else { console.log(`::error::bump must be major, minor or patch, not '${bump}'`); process.exit(1); }
const next = `${major}.${minor}.${patch}` + (preRelease ? `-${preRelease}` : '');
// core.setOutput and core.exportVariable: lines in GITHUB_OUTPUT and GITHUB_ENV.
fs.appendFileSync(process.env.GITHUB_OUTPUT, `version=${next}\n`);
fs.appendFileSync(process.env.GITHUB_ENV, `NEXT_VERSION=${next}\n`);
console.log(`${version} + ${bump} = ${next}`);
