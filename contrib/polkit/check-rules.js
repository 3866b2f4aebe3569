// Checks contrib/polkit/ndhc.rules the way polkitd runs it: the file is
// evaluated with a `polkit` object whose addRule collects the function,
// which is then asked about users and actions. Run by .ci/dns-check.sh:
//   node contrib/polkit/check-rules.js contrib/polkit/ndhc.rules
"use strict";
const fs = require("fs");
const vm = require("vm");

const file = process.argv[2];
const Result = { YES: "yes", NO: "no", AUTH_ADMIN: "auth_admin", NOT_HANDLED: null };
const rules = [];
const polkit = { Result, addRule: (f) => rules.push(f), log: () => {} };
vm.runInNewContext(fs.readFileSync(file, "utf8"), { polkit }, { filename: file });
if (rules.length !== 1) {
  console.error(`${file}: ${rules.length} rules, want 1`);
  process.exit(1);
}
const ask = (user, id) => rules[0]({ id }, { user, isInGroup: () => false, local: true, active: true });

const granted = [
  "org.freedesktop.resolve1.set-dns-servers",
  "org.freedesktop.resolve1.set-domains",
  "org.freedesktop.resolve1.set-default-route",
  "org.freedesktop.resolve1.revert",
];
const others = [
  "org.freedesktop.resolve1.set-dnssec",
  "org.freedesktop.resolve1.set-dns-over-tls",
  "org.freedesktop.resolve1.set-llmnr",
  "org.freedesktop.resolve1.set-mdns",
  "org.freedesktop.resolve1.set-dnssec-negative-trust-anchors",
  "org.freedesktop.resolve1.register-service",
  "org.freedesktop.systemd1.manage-units",
  "org.freedesktop.hostname1.set-hostname",
];
let passed = 0, failed = 0;
const expect = (user, id, want) => {
  const got = ask(user, id);
  if (got === want) {
    passed++;
  } else {
    failed++;
    console.error(`${user} ${id}: ${got}, want ${want}`);
  }
};
for (const id of granted) {
  expect("ndhc-dns", id, Result.YES);
  for (const u of ["root", "ndhc", "ndhc-ifch", "nobody", "ndhc-dns2"]) expect(u, id, Result.NOT_HANDLED);
}
for (const id of others) expect("ndhc-dns", id, Result.NOT_HANDLED);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
