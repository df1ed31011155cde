// A busy shift in three browsers: two operators (VAGT_USER, VAGT_USER2) and a supervisor
// (VAGT_SUPERVISOR). A burst of simultaneous calls appears in both operators' queues; the
// supervisor switches emergency staffing on and every console says so (also one that logs in
// after); a citizen who presses again and again is flagged as a runaway above the queue and on
// the row, counted press by press among the month's top callers; the supervisor reassigns an
// operator's alarm to the other operator.
//
// Environment: VAGT_URL, VAGT_USER/VAGT_PASSWORD, VAGT_USER2/VAGT_PASSWORD2,
// VAGT_SUPERVISOR/VAGT_SUPERVISOR_PASSWORD, VAGT_BURST (how many calls the burst has),
// VAGT_RUNAWAY (the pressing account), VAGT_PRESSES (how many presses), VAGT_CITIZEN (its
// citizen reference), VAGT_SCREENSHOT, CHROMIUM. Prints "ready", then "burst", "emergency",
// "runaway" (the test sends the presses between them) and "reassigned <alarm>".
import { env, launch, login } from "./session.mjs";

const url = env("VAGT_URL");
const browser = await launch();
async function page(user, password) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1000 } });
  const p = await context.newPage();
  p.setDefaultTimeout(60_000);
  await login(p, url, user, password);
  await p.waitForSelector('#status:text-is("live")');
  return p;
}
const rows = (p) => p.$$eval("#queue tbody tr", (trs) => trs.length);
try {
  const ole = await page(env("VAGT_USER"), env("VAGT_PASSWORD"));
  const mette = await page(env("VAGT_USER2"), env("VAGT_PASSWORD2"));
  const sara = await page(env("VAGT_SUPERVISOR"), env("VAGT_SUPERVISOR_PASSWORD"));
  console.log("ready");

  // The burst: every call in both operators' queues.
  const burst = Number(env("VAGT_BURST"));
  for (const p of [ole, mette]) await p.waitForFunction((n) => document.querySelectorAll("#queue tbody tr").length >= n, burst);
  console.log("burst");

  // Emergency staffing: switched by the supervisor, seen by every console, and by a new one.
  await sara.click("#emergency-on");
  for (const p of [ole, mette, sara]) await p.waitForSelector('#mode:text-is("EMERGENCY STAFFING")');
  const late = await page(env("VAGT_USER"), env("VAGT_PASSWORD"));
  await late.waitForSelector('#mode:text-is("EMERGENCY STAFFING")');
  await late.context().close();
  console.log("emergency");

  // The runaway: flagged above the queue and on its row; every press counted.
  const account = env("VAGT_RUNAWAY"), presses = Number(env("VAGT_PRESSES"));
  for (const p of [ole, mette, sara]) await p.waitForSelector(`#runaways li[data-account="${account}"]`);
  const row = ole.locator("#queue tbody tr", { hasText: account });
  await row.locator("small.runaway").waitFor();
  await ole.waitForFunction(([a, n]) => [...document.querySelectorAll("#queue tbody tr")]
    .some((tr) => tr.children[2].textContent.startsWith(a) && tr.lastChild.textContent === String(n - 1)), [account, presses]);
  await sara.click("#sla-refresh");
  await sara.waitForSelector(`#top-callers li:has-text("${env("VAGT_CITIZEN")}: ${presses} calls")`);
  console.log("runaway");

  // Reassign: ole claims the runaway's alarm, the supervisor gives it to mette.
  const id = (await row.locator("td").first().textContent()).trim();
  await row.click();
  await ole.click('#actions button[data-cmd="claim"]');
  await ole.waitForSelector(`#answer:has-text("claim A${id}: done")`);
  await sara.locator("#queue tbody tr", { hasText: account }).click();
  await sara.waitForSelector('#actions button[data-cmd="reassign"]:visible');
  await sara.selectOption("#reassign-to", env("VAGT_USER2"));
  await sara.click('#actions button[data-cmd="reassign"]');
  await sara.waitForSelector(`#answer:has-text("reassign A${id}: done")`);
  for (const p of [ole, mette]) {
    await p.waitForFunction(([i, who]) => [...document.querySelectorAll("#queue tbody tr")]
      .some((tr) => tr.dataset.id === i && tr.children[5].textContent === who), [id, env("VAGT_USER2")]);
  }
  await sara.evaluate(() => window.scrollTo(0, 0));
  await sara.screenshot({ path: env("VAGT_SCREENSHOT"), fullPage: false });
  console.log(`reassigned ${id}`);
} finally {
  await browser.close();
}
