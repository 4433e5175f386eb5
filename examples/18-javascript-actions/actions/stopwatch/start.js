// core.saveState without the toolkit: NAME=VALUE lines in the file GITHUB_STATE.
const fs = require('fs');
fs.appendFileSync(process.env.GITHUB_STATE, `started=${Date.now()}\n`);
console.log(`stopwatch '${process.env.INPUT_LABEL}' started`);
