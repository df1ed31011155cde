// Cluster mode: when the database stops committing, the node keeps acknowledging alarms on its
// own disk (degraded) and every console must say so — a banner over a queue that stays
// workable — and clear it when the database is back.
//
// Environment: VAGT_URL, VAGT_USER, VAGT_PASSWORD, CHROMIUM, VAGT_SCREENSHOT_DIR (degraded.png).
// Prints "ready" once live, "degraded" once the banner shows (the queue still actionable) and
// the alarm listed under it was claimed from there, "over" once the banner is gone and the
// alarm is in the queue, claimed by this user.
import { env, launch, login } from "./session.mjs";

const url = env("VAGT_URL"), user = env("VAGT_USER"), password = env("VAGT_PASSWORD");
const shots = process.env.VAGT_SCREENSHOT_DIR;

const browser = await launch();
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await login(page, url, user, password);
  await page.waitForSelector('#status:text-is("live")');
  if (await page.isVisible("#degraded")) throw new Error("DEGRADED shown while the database commits");
  console.log("ready");

  await page.waitForSelector("#degraded:not([hidden])");
  if (!(await page.textContent("#degraded")).includes("DEGRADED")) throw new Error("banner text");
  if ((await page.textContent("#status")) !== "live") throw new Error("degraded is not NOT LIVE: the console stays live");
  // The alarm pressed while degraded is listed under the banner.
  await page.waitForSelector('#provisional li:has-text("account 1234")');
  if (shots) await page.screenshot({ path: `${shots}/degraded.png`, fullPage: true });
  // Claimed from the banner before it has an id: sent, decided when the database is back.
  await page.click('#provisional li:has-text("account 1234") button.claim-call');
  await page.waitForSelector('#answer:has-text("claim call 1234")');
  if ((await page.textContent("#answer")).includes("done")) throw new Error("decided without the database");
  console.log("degraded");

  await page.waitForSelector("#degraded", { state: "hidden" });
  await page.waitForSelector('#answer:has-text("claim call 1234 emergency alarm: done")');
  const row = page.locator("#queue tbody tr", { hasText: "1234" });
  await row.filter({ hasText: "claimed" }).filter({ hasText: user }).waitFor();
  console.log("over");
} finally {
  await browser.close();
}
