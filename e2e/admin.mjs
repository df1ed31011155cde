// An administrator's page: the users and the citizen register, changed by clicking. Adds an
// operator, disables another, opens a citizen's record found by searching, changes a phone
// number and adds a citizen, changes an account's provider and adds an encrypted account; then
// the new operator logs in in a second browser and gets the
// queue, without the administration.
//
// Environment: VAGT_URL, VAGT_USER / VAGT_PASSWORD (an admin), VAGT_NEW_USER /
// VAGT_NEW_PASSWORD (the operator to add), VAGT_DISABLE (a user to disable), VAGT_SEARCH,
// VAGT_CITIZEN (the reference the search finds), VAGT_PHONE (its new number), VAGT_ACCOUNT and
// VAGT_PROVIDER (an account and its new provider), VAGT_KEY (the new account 7777's AES key),
// VAGT_SCREENSHOT, CHROMIUM. Prints "done" at the end.
import { env, launch, login } from "./session.mjs";

const url = env("VAGT_URL");
const browser = await launch();
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1400 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await login(page, url, env("VAGT_USER"), env("VAGT_PASSWORD"));
  await page.waitForSelector('#status:text-is("live")');
  const answer = (text) => page.waitForSelector(`#admin-answer:has-text("${text}")`);

  // A new operator.
  const user = env("VAGT_NEW_USER");
  await page.waitForSelector('#users tr[data-name]');
  await page.fill("#u-name", user);
  await page.selectOption("#u-role", "operator");
  await page.fill("#u-password", env("VAGT_NEW_PASSWORD"));
  await page.click("#u-save");
  await answer(`user ${user} added`);
  await page.waitForSelector(`#users tr[data-name="${user}"]`);

  // Another user disabled from their row.
  const off = env("VAGT_DISABLE");
  await page.click(`#users tr[data-name="${off}"] button.toggle`);
  await answer(`user ${off} disabled`);
  await page.waitForSelector(`#users tr.disabled[data-name="${off}"]`);

  // A citizen found by name, opened, a number changed.
  const ref = env("VAGT_CITIZEN");
  await page.fill("#cz-search", env("VAGT_SEARCH"));
  const rows = await page.$$eval("#citizens tbody tr", (trs) => trs.map((tr) => tr.dataset.ref));
  if (rows.length !== 1 || rows[0] !== ref) throw new Error(`the search shows ${rows}`);
  await page.click(`#citizens tr[data-ref="${ref}"]`);
  await page.waitForFunction((r) => document.getElementById("cz-ref").value === r, ref);
  await page.fill("#cz-phones", env("VAGT_PHONE"));
  await page.click("#cz-save");
  await answer(`citizen ${ref} changed`);

  // A new citizen.
  await page.fill("#cz-search", "");
  await page.click("#cz-new");
  await page.fill("#cz-ref", "borger-7");
  await page.fill("#cz-name", "Else Holm");
  await page.fill("#cz-address", "Søndergade 7, 8000 Aarhus C");
  await page.fill("#cz-phones", "+4533333333");
  await page.click("#cz-save");
  await answer("citizen borger-7 added");
  await page.waitForSelector('#citizens tr[data-ref="borger-7"]');
  // An account's provider changed, and a new encrypted account added.
  const account = env("VAGT_ACCOUNT");
  await page.click(`#accounts tr[data-account="${account}"]`);
  await page.waitForFunction((a) => document.getElementById("ac-account").value === a, account);
  await page.fill("#ac-provider", env("VAGT_PROVIDER"));
  await page.click("#ac-save");
  await answer(`account ${account} saved`);
  await page.click("#ac-new");
  await page.fill("#ac-account", "7777");
  await page.fill("#ac-citizen", "borger-7");
  await page.selectOption("#ac-call-type", "nodkald");
  await page.fill("#ac-provider", env("VAGT_PROVIDER"));
  await page.fill("#ac-key", env("VAGT_KEY"));
  await page.click("#ac-save");
  await answer("account 7777 saved");
  const key = await page.textContent('#accounts tr[data-account="7777"] td:last-child');
  if (key !== "AES") throw new Error(`the new account shows key ${key}`);
  if ((await page.content()).includes(env("VAGT_KEY").slice(5))) throw new Error("the key is on the page");

  await page.click('#users tr[data-name] button.edit');
  await page.screenshot({ path: env("VAGT_SCREENSHOT"), fullPage: true });

  // The new operator logs in (in another browser) and gets the queue, not the administration.
  const other = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  other.setDefaultTimeout(60_000);
  await login(other, url, user, env("VAGT_NEW_PASSWORD"));
  await other.waitForSelector('#status:text-is("live")');
  if (await other.isVisible("#admin")) throw new Error("an operator sees the administration");
  console.log("done");
} finally {
  await browser.close();
}
