// Drives the Vagt web console in headless Chromium: log in, wait for the alarm the test sends
// as a real DC-09 frame, then claim it, record the call-back's outcome, classify and close it
// by clicking; with VAGT_FORWARD_TEAM, claim the citizen's next alarm and forward it to that
// team, chosen from the list.
//
// Then, if VAGT_SUPERVISOR is set, logs in as that supervisor (VAGT_SUPERVISOR_PASSWORD): the
// SLA view must list the three shifts and count the call, and the call list must download as
// CSV with one row per call.
//
// Environment: VAGT_URL (https://127.0.0.1:PORT/), VAGT_USER, VAGT_PASSWORD, VAGT_ACCOUNT,
// VAGT_EVENT_NAME (the code table's name the queue must show for the alarm's code),
// VAGT_CALL_TYPE (the account's call type as the queue names it),
// VAGT_CITIZEN (the account's citizen reference, shown in the alarm detail), VAGT_CITIZEN_NAME
// (the register's name for it, shown with a tel: call-back link; VAGT_DETAIL_SCREENSHOT: a PNG),
// CHROMIUM (default /usr/bin/chromium), VAGT_SCREENSHOT (a PNG of the supervisor's page). Prints "ready" once logged in (the test then sends the
// frame), "supervisor <calls> <file name>" after the supervisor part and "done <alarm id>" at
// the end; exits non-zero with a message on any failure.
import { readFile } from "node:fs/promises";
import { env, launch, login } from "./session.mjs";

const url = env("VAGT_URL"), user = env("VAGT_USER"), password = env("VAGT_PASSWORD");
const account = env("VAGT_ACCOUNT");

const browser = await launch();
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await login(page, url, user, password);
  await page.waitForSelector(`#who:has-text("${user}")`);
  console.log("ready");

  // The alarm arrives over DC-09 and appears in the live queue.
  const row = page.locator("#queue tbody tr", { hasText: account });
  await row.waitFor();
  // The queue names the event from the code table, not just its code.
  if (process.env.VAGT_EVENT_NAME) {
    const event = (await row.locator("td").nth(3).textContent()).trim();
    if (!event.startsWith(env("VAGT_EVENT_NAME"))) throw new Error(`queue shows the event as ${event}`);
  }
  // Under the account, its call type from the accounts file.
  if (process.env.VAGT_CALL_TYPE) {
    const acct = await row.locator("td").nth(2).textContent();
    if (!acct.includes(env("VAGT_CALL_TYPE"))) throw new Error(`the account cell says ${acct}`);
  }
  const id = (await row.locator("td").first().textContent()).trim();
  await row.click();
  // The detail shows the citizen from the accounts file and the alarm's history.
  await page.waitForSelector(`#d-fields dd:has-text("${env("VAGT_CITIZEN")}")`);
  await page.waitForSelector('#d-fields dd:has-text("opened")');
  // … and, with a citizen register, who the citizen is, with the number to call back.
  if (process.env.VAGT_CITIZEN_NAME) {
    await page.waitForSelector(`#d-citizen #c-name:has-text("${env("VAGT_CITIZEN_NAME")}")`);
    const tel = await page.getAttribute("#c-phones a", "href");
    if (!/^tel:\+?[0-9]+$/.test(tel)) throw new Error(`call-back link: ${tel}`);
    if (process.env.VAGT_DETAIL_SCREENSHOT) await page.screenshot({ path: process.env.VAGT_DETAIL_SCREENSHOT, fullPage: true });
  }
  // A priority-1 alarm waits: the header says so, the title counts it, and the tone sounded.
  await page.waitForSelector('#attention:has-text("1 urgent alarm waiting")');
  if (!(await page.title()).startsWith("(1) ALARM")) throw new Error(`title: ${await page.title()}`);
  if (!(Number(await page.getAttribute("#attention", "data-sounded")) >= 1)) throw new Error("no alert tone");
  // Only what the alarm's state allows is offered: a queued alarm can be claimed, not forwarded.
  const visible = async (cmd) => page.isVisible(`#actions button[data-cmd="${cmd}"]`);
  if (!(await visible("claim")) || (await visible("forward")) || (await visible("accept"))) {
    throw new Error("a queued alarm must offer Claim and not Forward or Accept");
  }
  await page.click('#actions button[data-cmd="claim"]');
  await page.waitForFunction(
    ([id, user]) => [...document.querySelectorAll("#queue tbody tr")]
      .some((tr) => tr.dataset.id === id && tr.children[5].textContent === user),
    [id, user]);
  // Claimed: nothing urgent waits any more.
  await page.waitForSelector("#attention", { state: "hidden" });
  // Claimed by this operator: release, forward and close, no second claim.
  await page.waitForSelector('#actions button[data-cmd="forward"]:visible');
  if ((await visible("claim")) || !(await visible("release")) || !(await visible("close"))) {
    throw new Error("an alarm the operator owns must offer Release, Forward and Close, not Claim");
  }
  // The call back: its outcome is recorded in the alarm's history.
  await page.selectOption("#callback-outcome", "no answer");
  await page.click('#actions button[data-cmd="callback"]');
  await page.waitForSelector('#answer:has-text("callback")');
  await page.waitForSelector('#answer:has-text("done")');
  await page.waitForSelector('#d-fields dd:has-text("callback: no answer")');
  await page.selectOption("#classification", "false_call");
  await page.click('#actions button[data-cmd="classify"]');
  await page.waitForSelector('#answer:has-text("done")');
  await page.click('#actions button[data-cmd="close"]');
  // Closed: it leaves the queue.
  await page.waitForFunction(
    (id) => ![...document.querySelectorAll("#queue tbody tr")].some((tr) => tr.dataset.id === id),
    id);

  // With VAGT_FORWARD_TEAM: the citizen presses again (the test sends it after this line);
  // the operator forwards the call to a team chosen from the list the server sent.
  if (process.env.VAGT_FORWARD_TEAM) {
    const team = env("VAGT_FORWARD_TEAM");
    console.log("ready for a second alarm");
    const again = page.locator("#queue tbody tr", { hasText: account });
    await again.waitFor();
    const second = (await again.locator("td").first().textContent()).trim();
    if (second === id) throw new Error("the second press did not open a new alarm");
    await again.click();
    await page.click('#actions button[data-cmd="claim"]');
    await page.waitForSelector('#forward-team:visible');
    await page.selectOption("#forward-team", team);
    await page.click('#actions button[data-cmd="forward"]');
    await page.waitForFunction(
      ([id, team]) => [...document.querySelectorAll("#queue tbody tr")]
        .some((tr) => tr.dataset.id === id && tr.children[4].textContent === "forwarded" && tr.children[6].textContent === team),
      [second, team]);
  }

  // The supervisor's view of the month: SLA per shift, computed by the server from the
  // journal, with the call just handled counted; and the call list fetched as a CSV download.
  if (process.env.VAGT_SUPERVISOR) {
    const sup = await context.newPage();
    sup.setDefaultTimeout(30_000);
    await login(sup, url, env("VAGT_SUPERVISOR"), env("VAGT_SUPERVISOR_PASSWORD"));
    await sup.waitForSelector("#sla tbody tr");
    const shifts = await sup.locator("#sla tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.shift));
    if (shifts.join(",") !== "day,evening,night") throw new Error(`SLA shifts: ${shifts}`);
    const calls = Number(await sup.textContent("#sla-calls"));
    if (!(calls >= 1)) throw new Error(`SLA view counts ${calls} calls`);
    await sup.selectOption("#report-kind", "csv:calls");
    await sup.check("#report-semicolon");
    await sup.click("#report-form button[type=submit]");
    const link = sup.locator("#report-link");
    await link.waitFor();
    // Clicked as a user would: the browser downloads the file.
    const [download] = await Promise.all([sup.waitForEvent("download"), link.click()]);
    const csv = await readFile(await download.path(), "utf8");
    const rows = csv.trim().split("\n");
    if (rows.length !== calls + 1 || !rows[0].includes(";") || !rows.some((r) => r.includes(account))) {
      throw new Error(`report CSV:\n${csv}`);
    }
    if (process.env.VAGT_SCREENSHOT) await sup.screenshot({ path: process.env.VAGT_SCREENSHOT, fullPage: true });
    console.log(`supervisor ${calls} ${download.suggestedFilename()}`);
  }
  console.log(`done ${id}`);
} finally {
  await browser.close();
}
