// Vagt web console: speaks the console protocol v2 (docs/console-protocol.md) over wss://.
"use strict";
const alarms = new Map();
let ws = null, selected = null, nextId = 1, me = null, detail = null;
// Live = logged in and the queue is the server's (a snapshot came after the last connect).
let creds = null, live = false, retries = 0, offlineSince = null, lastHeard = 0;
const pending = new Map(); // command id → what the operator asked, for the answer line
const $ = (id) => document.getElementById(id);

// Every string the page shows, in Danish (the default: the operators are Danish) and English;
// one switch in the header changes them all, at once, and is remembered in this browser.
// Values the server sends (states, commands, refusal reasons) are looked up under their
// prefix; what has no entry is shown as sent.
const STRINGS = {
  en: {
    "title": "Vagt — alarm centre", "user": "User", "password": "Password", "log in": "Log in",
    "setup title": "First run: create the administrator (password: at least 12 characters)",
    "not connected": "not connected", "connected": "connected — waiting for the queue", "live": "live",
    "not live": "NOT LIVE", "cannot reach": "cannot reach the server",
    "stale": "NOT LIVE — this queue may be out of date. New alarms are not shown and nothing can be done here until it reconnects.",
    "stale detail": "since {since}; reconnecting (attempt {n}) in {secs} s",
    "degraded": "DEGRADED — the database is not answering. Devices are still answered (on this node's disk); alarms that arrive now are listed here and join the queue when the database is back. Tell the IT on duty.",
    "provisional": "{at} — account {account}: {code} {kind}",
    "sound on": "sound on", "sound off": "sound off",
    "urgent one": "{n} urgent alarm waiting", "urgent many": "{n} urgent alarms waiting",
    "notify title": "Vagt: urgent alarm", "notify body": "{what}, account {account}",
    "col #": "#", "col priority": "Priority", "col account": "Account", "col event": "Event", "col state": "State",
    "col owner": "Owner", "col team": "Team", "col waiting": "Waiting", "col repeats": "Repeats",
    "queue": "Alarm queue", "alarm": "Alarm", "citizen": "Citizen",
    "address": "address", "call back": "call back", "contacts": "contacts", "language": "language",
    "care notes": "care notes", "key box": "key box",
    "account": "account", "event": "event", "state": "state", "owner": "owner", "team": "team",
    "waiting": "waiting", "since forward": "since forward", "escalations": "escalations",
    "deadline": "deadline", "deadline value": "{deadline} in {left} ({at})", "door": "door",
    "door value": "{lock} → {to}, {left} left", "expired": "expired", "notes": "notes",
    "citizen ref": "citizen", "call type": "call type", "provider": "provider", "municipality": "municipality",
    "history": "history",
    "btn claim": "Claim", "btn release": "Release", "btn classify": "Classify", "btn forward": "Forward",
    "btn accept": "Accept", "btn arrive": "Arrive", "btn close": "Close", "btn note": "Add note",
    "btn callback": "Record call-back", "note": "Note", "classification": "Classification",
    "forward to": "Forward to", "own team": "its provider / district", "callback outcome": "Call-back outcome",
    "class false_call": "false call", "class repeat_call": "repeat call", "class reassurance_call": "reassurance call",
    "class emergency": "emergency", "class technical": "technical",
    "outcome reached": "reached", "outcome no answer": "no answer", "outcome busy": "busy",
    "outcome wrong number": "wrong number",
    "emergency on": "Emergency staffing ON", "emergency off": "Emergency staffing OFF",
    "emergency mode": "EMERGENCY STAFFING",
    "sent": "{what}: sent…", "done": "{what}: done", "refused": "{what}: refused — {why}",
    "not sent": "{what}: NOT SENT — the console is not live",
    "not confirmed": "{what}: not confirmed — the connection was lost; check the alarm when live",
    "select first": "select an alarm first", "error": "error", "command": "command",
    "already_claimed": "already claimed by {by}", "not_owner": "owned by {owner}",
    "invalid_transition": "cannot {action} an alarm that is {state}",
    "no_team": "the account has no team to forward to", "forbidden": "a {role} may not {action}",
    "no_open_call": "no open {kind} alarm of account {account} (closed or cleared meanwhile)",
    "figures": "SLA and reports", "this month": "This month", "refresh": "Refresh", "sla": "SLA per shift",
    "th shift": "Shift", "th calls": "Calls", "th 60": "Claimed ≤ 60 s", "th 180": "≤ 180 s", "th targets": "Targets",
    "th visits": "Visits", "th on site": "On site in time", "calls": "Calls", "citizens": "citizens",
    "missed promises": "missed promises", "top callers": "Top callers", "report": "Report", "month": "Month",
    "report format": "Report format", "kind html": "page (HTML)", "kind calls": "calls (CSV)",
    "kind citizens": "citizens (CSV)", "kind json": "everything (JSON)", "semicolon": "; separator (Excel)",
    "fetch": "Fetch", "download": "download {name}", "pending": "pending", "pending n": "{calls} ({n} pending)",
    "met": "met", "missed": "MISSED", "top caller": "{citizen}: {calls} calls (last month {previous})",
    "shift day": "day", "shift evening": "evening", "shift night": "night",
    "state queued": "queued", "state claimed": "claimed", "state forwarded": "forwarded", "state accepted": "accepted",
    "state on_site": "on_site", "state closed": "closed", "state cancelled": "cancelled",
    "role operator": "operator", "role supervisor": "supervisor", "role responder": "responder",
    "role auditor": "auditor", "role admin": "admin",
    "change accepted": "accepted", "change arrived": "arrived", "change attached": "attached", "change cancelled": "cancelled", "change claimed": "claimed", "change classified": "classified", "change closed": "closed", "change door_granted": "door_granted", "change door_revoked": "door_revoked", "change emergency_mode": "emergency_mode", "change escalated": "escalated", "change forwarded": "forwarded", "change noted": "noted", "change opened": "opened", "change reassigned": "reassigned", "change released": "released", "change supervision_lost": "supervision_lost", "change supervision_restored": "supervision_restored", "change runaway": "runaway",
    "admin": "Administration", "users title": "Users", "th name": "Name", "th role": "Role", "th team": "Team",
    "th municipality": "Municipality", "th status": "Status", "u team": "Team (responders)",
    "u municipality": "Municipality (auditors)", "u password": "New password (at least 12 characters)",
    "btn save user": "Save user", "btn new": "New", "register title": "Citizen register", "search": "Search",
    "th reference": "Reference", "cz phones": "phone numbers (one per line)", "cz contacts": "contacts (one per line)",
    "btn save citizen": "Save citizen", "btn remove": "Remove", "status enabled": "active", "status disabled": "disabled",
    "btn disable": "Disable", "btn enable": "Enable", "btn edit": "Edit", "version": "version {v}",
    "save user": "save user {name}", "set password": "new password for {name}", "disable": "disable {name}",
    "enable": "enable {name}", "save citizen": "save citizen {ref}", "remove citizen": "remove citizen {ref}",
    "accounts title": "Accounts", "th call type": "Call type", "th account": "Account", "th line": "Line / receiver", "th provider": "Provider / district",
    "th key": "Key", "ac line": "line (optional)", "ac receiver": "receiver (optional)", "ac citizen": "citizen reference",
    "ac provider": "home-care provider", "ac district": "home-nurse district", "ac supervision": "supervision (seconds)",
    "ac lock": "door lock", "ac backup": "backup team", "ac key": "new AES key (hex:… / text:…; empty keeps it)",
    "btn save account": "Save account", "save account": "save account {account}", "remove account": "remove account {account}",
    "key yes": "AES", "key no": "—", "ct nodkald": "emergency pendant", "ct sygeplejekald": "nurse call",
    "ct intrusion": "intrusion", "ct fire": "fire", "ct other": "other",
    "unknown account": "UNKNOWN ACCOUNT", "category": "category",
    "runaway title": "RUNAWAY DEVICES — pressing again and again: call the citizen back, check the device.",
    "runaway item": "{at} — account {account}: {events} events within the hour", "runaway badge": "RUNAWAY",
    "btn reassign": "Reassign", "reassign to": "Reassign to",
  },
  da: {
    "title": "Vagt — vagtcentral", "user": "Bruger", "password": "Adgangskode", "log in": "Log ind",
    "setup title": "Første start: opret administratoren (adgangskode: mindst 12 tegn)",
    "not connected": "ikke forbundet", "connected": "forbundet — venter på køen", "live": "live",
    "not live": "IKKE LIVE", "cannot reach": "kan ikke nå serveren",
    "stale": "IKKE LIVE — køen her kan være forældet. Nye alarmer vises ikke, og intet kan gøres her, før forbindelsen er tilbage.",
    "stale detail": "siden {since}; forbinder igen (forsøg {n}) om {secs} s",
    "degraded": "NØDDRIFT — databasen svarer ikke. Enhederne får stadig svar (på denne nodes disk); alarmer, der kommer nu, står her og kommer i køen, når databasen er tilbage. Giv IT-vagten besked.",
    "provisional": "{at} — konto {account}: {code} {kind}",
    "sound on": "lyd til", "sound off": "lyd fra",
    "urgent one": "{n} akut alarm venter", "urgent many": "{n} akutte alarmer venter",
    "notify title": "Vagt: akut alarm", "notify body": "{what}, konto {account}",
    "col #": "#", "col priority": "Prioritet", "col account": "Konto", "col event": "Hændelse", "col state": "Tilstand",
    "col owner": "Ejer", "col team": "Team", "col waiting": "Venter", "col repeats": "Gentagelser",
    "queue": "Alarmkø", "alarm": "Alarm", "citizen": "Borger",
    "address": "adresse", "call back": "ring op", "contacts": "kontakter", "language": "sprog",
    "care notes": "plejenoter", "key box": "nøgleboks",
    "account": "konto", "event": "hændelse", "state": "tilstand", "owner": "ejer", "team": "team",
    "waiting": "venter", "since forward": "siden videresendt", "escalations": "eskaleringer",
    "deadline": "frist", "deadline value": "{deadline} om {left} ({at})", "door": "dør",
    "door value": "{lock} → {to}, {left} tilbage", "expired": "udløbet", "notes": "noter",
    "citizen ref": "borger", "call type": "kaldetype", "provider": "leverandør", "municipality": "kommune",
    "history": "historik",
    "btn claim": "Tag", "btn release": "Frigiv", "btn classify": "Klassificér", "btn forward": "Send videre",
    "btn accept": "Accepter", "btn arrive": "Ankommet", "btn close": "Luk", "btn note": "Tilføj note",
    "btn callback": "Registrér opkald", "note": "Note", "classification": "Klassifikation",
    "forward to": "Send videre til", "own team": "kontoens hjemmepleje / distrikt", "callback outcome": "Opkaldets udfald",
    "class false_call": "fejlkald", "class repeat_call": "gentaget kald", "class reassurance_call": "tryghedskald",
    "class emergency": "nødsituation", "class technical": "teknisk fejl",
    "outcome reached": "talt med", "outcome no answer": "intet svar", "outcome busy": "optaget",
    "outcome wrong number": "forkert nummer",
    "emergency on": "Nødbemanding TIL", "emergency off": "Nødbemanding FRA",
    "emergency mode": "NØDBEMANDING",
    "sent": "{what}: sendt…", "done": "{what}: udført", "refused": "{what}: afvist — {why}",
    "not sent": "{what}: IKKE SENDT — konsollen er ikke live",
    "not confirmed": "{what}: ikke bekræftet — forbindelsen blev afbrudt; se alarmen, når konsollen er live igen",
    "select first": "vælg først en alarm", "error": "fejl", "command": "kommando",
    "already_claimed": "allerede taget af {by}", "not_owner": "ejes af {owner}",
    "invalid_transition": "kan ikke {action} en alarm, der er {state}",
    "no_team": "kontoen har intet team at sende videre til", "forbidden": "en {role} må ikke {action}",
    "no_open_call": "ingen åben {kind}-alarm på konto {account} (lukket eller ryddet imens)",
    "figures": "SLA og rapporter", "this month": "Denne måned", "refresh": "Opdatér", "sla": "SLA pr. vagt",
    "th shift": "Vagt", "th calls": "Kald", "th 60": "Taget ≤ 60 s", "th 180": "≤ 180 s", "th targets": "Mål",
    "th visits": "Besøg", "th on site": "Fremme til tiden", "calls": "Kald", "citizens": "borgere",
    "missed promises": "overskredne frister", "top callers": "Flest kald", "report": "Rapport", "month": "Måned",
    "report format": "Rapportformat", "kind html": "side (HTML)", "kind calls": "kald (CSV)",
    "kind citizens": "borgere (CSV)", "kind json": "alt (JSON)", "semicolon": "; som skilletegn (Excel)",
    "fetch": "Hent", "download": "hent {name}", "pending": "afventer", "pending n": "{calls} ({n} afventer)",
    "met": "opfyldt", "missed": "OVERSKREDET", "top caller": "{citizen}: {calls} kald (sidste måned {previous})",
    "shift day": "dag", "shift evening": "aften", "shift night": "nat",
    "state queued": "i kø", "state claimed": "taget", "state forwarded": "videresendt", "state accepted": "accepteret",
    "state on_site": "fremme", "state closed": "lukket", "state cancelled": "annulleret",
    "role operator": "operatør", "role supervisor": "vagtleder", "role responder": "udkørende",
    "role auditor": "revisor", "role admin": "administrator",
    "change accepted": "accepteret", "change arrived": "ankommet", "change attached": "gentagelse", "change cancelled": "annulleret", "change claimed": "taget", "change classified": "klassificeret", "change closed": "lukket", "change door_granted": "dør åbnet", "change door_revoked": "dør lukket", "change emergency_mode": "nødbemanding", "change escalated": "eskaleret", "change forwarded": "videresendt", "change noted": "note", "change opened": "åbnet", "change reassigned": "overdraget", "change released": "frigivet", "change supervision_lost": "forbindelse mistet", "change supervision_restored": "forbindelse tilbage", "change runaway": "løbsk enhed",
    "admin": "Administration", "users title": "Brugere", "th name": "Navn", "th role": "Rolle", "th team": "Team",
    "th municipality": "Kommune", "th status": "Status", "u team": "Team (udkørende)",
    "u municipality": "Kommune (revisorer)", "u password": "Ny adgangskode (mindst 12 tegn)",
    "btn save user": "Gem bruger", "btn new": "Ny", "register title": "Borgerregister", "search": "Søg",
    "th reference": "Reference", "cz phones": "telefonnumre (ét pr. linje)", "cz contacts": "kontakter (én pr. linje)",
    "btn save citizen": "Gem borger", "btn remove": "Fjern", "status enabled": "aktiv", "status disabled": "deaktiveret",
    "btn disable": "Deaktivér", "btn enable": "Aktivér", "btn edit": "Redigér", "version": "version {v}",
    "save user": "gem bruger {name}", "set password": "ny adgangskode til {name}", "disable": "deaktivér {name}",
    "enable": "aktivér {name}", "save citizen": "gem borger {ref}", "remove citizen": "fjern borger {ref}",
    "accounts title": "Konti", "th call type": "Kaldetype", "th account": "Konto", "th line": "Linje / modtager", "th provider": "Leverandør / distrikt",
    "th key": "Nøgle", "ac line": "linje (valgfri)", "ac receiver": "modtager (valgfri)", "ac citizen": "borgerreference",
    "ac provider": "hjemmepleje", "ac district": "sygeplejedistrikt", "ac supervision": "overvågning (sekunder)",
    "ac lock": "dørlås", "ac backup": "reserveteam", "ac key": "ny AES-nøgle (hex:… / text:…; tom beholder den)",
    "btn save account": "Gem konto", "save account": "gem konto {account}", "remove account": "fjern konto {account}",
    "key yes": "AES", "key no": "—", "ct nodkald": "nødkald", "ct sygeplejekald": "sygeplejekald",
    "ct intrusion": "indbrud", "ct fire": "brand", "ct other": "andet",
    "unknown account": "UKENDT KONTO", "category": "kategori",
    "runaway title": "LØBSKE ENHEDER — trykker igen og igen: ring borgeren op, tjek enheden.",
    "runaway item": "{at} — konto {account}: {events} hændelser inden for en time", "runaway badge": "LØBSK",
    "btn reassign": "Overdrag", "reassign to": "Overdrag til",
  },
};
// Event names in Danish for the codes a Danish centre sees most (social alarms, fire, intrusion,
// troubles, tests; SIA-DCS letter codes and Contact ID numbers do not overlap). Other codes keep
// the code table's English name (event_codes.csv has no Danish column).
const EVENT_DA = {
  "100": "Medicinsk alarm", "101": "Personligt nødkald", "102": "Ikke meldt ind", "110": "Brand",
  "111": "Røg", "120": "Overfald", "121": "Tvang", "122": "Stille overfaldsalarm",
  "123": "Hørbar overfaldsalarm", "130": "Indbrud", "131": "Skalsikring", "132": "Rumsikring",
  "133": "24-timers (pengeskab)", "134": "Ind-/udgang", "137": "Sabotage", "140": "Generel alarm",
  "144": "Sabotage af føler", "150": "24-timers teknisk alarm", "151": "Gas registreret",
  "154": "Vandudslip", "158": "Høj temperatur", "159": "Lav temperatur", "300": "Systemfejl",
  "301": "Strømsvigt (230 V)", "302": "Lavt batteri i central", "309": "Batteritest fejlet",
  "311": "Batteri mangler/dødt", "320": "Sirene-/relæfejl", "333": "Modulfejl", "344": "Radiostøj (jamming)",
  "350": "Kommunikationsfejl", "354": "Hændelse ikke sendt", "373": "Brandsløjfefejl", "380": "Følerfejl",
  "381": "Radioovervågning tabt", "383": "Sabotage af føler", "384": "Lavt batteri (radio)",
  "401": "Til-/frakobling af bruger", "403": "Automatisk til-/frakobling", "406": "Annulleret",
  "407": "Fjern til-/frakobling", "408": "Hurtig tilkobling", "409": "Nøgleafbryder til/fra",
  "441": "Tilkoblet hjemme", "456": "Deltilkobling", "570": "Zone/føler frakoblet",
  "601": "Manuel testmelding", "602": "Periodisk testmelding", "603": "Periodisk radiotest",
  "605": "Statusrapport følger", "606": "Aflytning følger", "611": "Testet OK", "612": "Ikke testet",
  "613": "Gangtestet", "614": "Gangtestet", "615": "Gangtestet", "616": "Serviceanmodning",
  "621": "Hændelseslog nulstillet", "627": "Programmering startet", "628": "Programmering afsluttet",
  "AR": "Strøm tilbage (230 V)", "AT": "Strømsvigt (230 V)", "BA": "Indbrudsalarm",
  "BH": "Indbrudsalarm ophørt", "BR": "Indbrud genoprettet", "BT": "Indbrudsfejl",
  "CA": "Automatisk tilkobling", "CG": "Område tilkoblet", "CL": "Tilkobling", "EA": "Udgangsalarm",
  "ER": "Udvidelse genoprettet", "FA": "Brandalarm", "FH": "Brandalarm ophørt", "FR": "Brand genoprettet",
  "FS": "Brandovervågning", "FT": "Brandfejl", "GA": "Gasalarm", "GH": "Gasalarm ophørt",
  "HA": "Røverialarm", "HH": "Røverialarm ophørt", "KA": "Varmealarm", "KH": "Varmealarm ophørt",
  "LR": "Telefonlinje genoprettet", "LT": "Telefonlinjefejl", "MA": "Medicinsk alarm",
  "MB": "Medicinsk frakoblet", "MH": "Medicinsk alarm ophørt", "MR": "Medicinsk genoprettet",
  "MS": "Medicinsk overvågning", "NA": "Ingen aktivitet", "OG": "Område frakoblet", "OP": "Frakobling",
  "PA": "Overfaldsalarm", "PH": "Overfaldsalarm ophørt", "PR": "Overfald genoprettet", "QA": "Nødkald",
  "QB": "Nødkald frakoblet", "QH": "Nødkald ophørt", "QR": "Nødkald genoprettet",
  "QS": "Nødkaldsovervågning", "QT": "Nødkaldsfejl", "RP": "Automatisk test", "RR": "Opstart",
  "RX": "Manuel test", "RY": "Test afvigende", "TA": "Sabotagealarm", "TR": "Sabotage genoprettet",
  "TS": "Test startet", "UA": "Alarm (zone uden type)", "UH": "Alarm ophørt (zone uden type)",
  "WA": "Vandalarm", "WH": "Vandalarm ophørt", "XE": "Ekstra, uspecificeret", "XL": "Svagt radiosignal",
  "XR": "Senderbatteri genoprettet", "XT": "Lavt batteri i sender", "YC": "Kommunikation svigtet",
  "YK": "Kommunikation genoprettet", "YP": "Strømforsyningsfejl", "YQ": "Strømforsyning genoprettet",
  "YR": "Systembatteri genoprettet", "YT": "Lavt systembatteri",
};
let lang = STRINGS[localStorage.getItem("vagt-lang")] ? localStorage.getItem("vagt-lang") : "da";
// The string `key` in the chosen language, with `{name}`s filled in from `vars`.
function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}
// A value the server sends (a state, a role), shown in the chosen language if known.
function tv(prefix, value) { const key = `${prefix} ${value}`; return key in STRINGS.en ? t(key) : value; }
// The page's fixed texts: data-t (text), data-t-placeholder, data-t-label (aria-label).
function applyLang() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
  for (const el of document.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
  $("lang").value = lang;
  $("mute").textContent = t(muted ? "sound off" : "sound on");
  if (me) showTeams(me.teams || []);
  showMode(emergency);
  showRunaways();
  if (me) $("who").textContent = who(me);
  $("status").textContent = t(me ? (live ? "live" : "not live") : "not connected");
  render();
  showUsers();
  showAccounts();
}
function who(m) { return `${m.user} (${tv("role", m.role)}${m.team ? ", " + m.team : ""})`; }

// A first run's set-up link (https://HOST/#setup=TOKEN): the form creates the first admin;
// spent once welcomed (later logins, after a logout or a refusal, are plain logins).
let setupToken = (location.hash.match(/^#setup=([0-9a-f]+)$/) || [])[1] || null;

function connect(user, password) {
  creds = { user, password, setup: setupToken };
  open();
}

// One socket at a time: a new one replaces (and silences) the old, and only the current
// socket's events count.
function open() {
  drop();
  const sock = new WebSocket(`wss://${location.host}/ws`);
  ws = sock;
  sock.onopen = () => sock.send(JSON.stringify(creds.setup
    ? { type: "setup", token: creds.setup, user: creds.user, password: creds.password }
    : { type: "login", user: creds.user, password: creds.password }));
  sock.onclose = () => { if (sock === ws) offline(); };
  sock.onmessage = (ev) => { if (sock === ws) { lastHeard = Date.now(); handle(JSON.parse(ev.data)); } };
}

function drop() {
  if (!ws) return;
  const old = ws;
  ws = null;
  old.onopen = old.onclose = old.onmessage = null;
  try { old.close(); } catch (_) { /* already closing */ }
}

// A silently dead connection (server host gone, a NAT dropped the flow) fires no close event
// for minutes: ping every 5 s, and when nothing came for 15 s, treat it as lost.
setInterval(() => {
  if (!ws || !live) return;
  if (Date.now() - lastHeard > 15_000) { drop(); offline(); return; }
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping", id: nextId++ }));
}, 5_000);

// The connection is gone: say so over the whole queue, refuse to look actionable, and
// reconnect with backoff (0.5 s doubling to 10 s, jittered); the next snapshot makes it live.
function offline() {
  drop();
  for (const [, what] of pending) answer(t("not confirmed", { what }));
  pending.clear();
  if (!me) { $("status").textContent = t("not connected"); if (creds) $("login-error").textContent = t("cannot reach"); return; }
  setLive(false);
  const delay = Math.min(10_000, 500 * 2 ** retries) * (0.75 + Math.random() / 2);
  retries += 1;
  $("stale-detail").textContent = t("stale detail", { since: offlineSince, n: retries, secs: (delay / 1000).toFixed(1) });
  setTimeout(open, delay);
}

function setLive(on) {
  live = on;
  if (on) { offlineSince = null; retries = 0; } else if (!offlineSince) offlineSince = new Date().toLocaleTimeString();
  document.body.classList.toggle("stale", !on);
  $("stale").hidden = on;
  $("status").textContent = t(on ? "live" : "not live");
  for (const el of document.querySelectorAll("#actions button, #actions select, #actions input, #supervisor button, #admin button")) el.disabled = !on;
}

// Degraded (cluster mode): the banner, and the alarms acknowledged meanwhile that the shared
// queue does not show yet — so none of them is out of sight.
function showDegraded(m) {
  $("degraded").hidden = !m.degraded;
  const list = $("provisional");
  list.replaceChildren(...(m.provisional ?? []).map((p) => {
    const li = document.createElement("li");
    const at = new Date(p.received_at * 1000).toLocaleTimeString();
    li.textContent = t("provisional", { at, account: p.account, code: p.code ?? "?", kind: p.kind ?? "" });
    // Claimed now by its call (account, kind, zone); decided when the database has the frame.
    if (p.claim && ["operator", "supervisor"].includes(me?.role)) {
      li.append(" ", button(t("btn claim"), () => command(p.claim), "claim-call"));
    }
    return li;
  }));
}

function answer(text) { $("answer").textContent = text; }

// Emergency staffing mode, as the snapshot and every switch say.
let emergency = false;
function showMode(on) {
  emergency = !!on;
  $("mode").textContent = emergency ? t("emergency mode") : "";
  $("mode").className = emergency ? "on" : "";
}

// Runaway devices (the core flags an account over its limit of events an hour): listed above
// the queue for those who take calls, and their rows marked, while this page is open.
const runaways = new Map(); // account → the flag
function runaway(c) {
  if (!["operator", "supervisor"].includes(me?.role)) return;
  runaways.set(c.kind.account, { at: c.at, events: c.kind.events });
  showRunaways();
}
function showRunaways() {
  $("runaway").hidden = runaways.size === 0;
  $("runaways").replaceChildren(...[...runaways].map(([account, r]) => {
    const li = document.createElement("li");
    li.dataset.account = account;
    li.textContent = t("runaway item", { at: new Date(r.at * 1000).toLocaleTimeString(), account, events: r.events });
    return li;
  }));
}

function handle(m) {
  switch (m.type) {
    case "welcome":
      me = m;
      // The set-up link is spent: reconnects log in, and the address bar drops the token.
      if (setupToken || (creds && creds.setup)) {
        setupToken = null;
        if (creds) creds.setup = null;
        history.replaceState(null, "", "/");
        $("login-title").hidden = true;
        $("password").autocomplete = "current-password";
      }
      $("who").textContent = who(m);
      showTeams(m.teams || []);
      $("reassign-to").replaceChildren(...(m.operators || []).map((name) => {
        const o = document.createElement("option"); o.value = name; o.textContent = name; return o;
      }));
      $("status").textContent = t("connected");
      $("login").hidden = true; $("console").hidden = false; $("mute").hidden = false;
      $("supervisor").hidden = m.role !== "supervisor";
      $("figures").hidden = !["supervisor", "auditor", "admin"].includes(m.role);
      $("admin").hidden = m.role !== "admin";
      if (!$("figures").hidden && !$("report-month").value) $("report-month").value = thisMonth();
      break;
    case "denied":
      // Reconnecting and only rate-limited (a whole centre behind one address logging in
      // again): keep trying, still NOT LIVE.
      if (me && /too many/.test(m.reason)) { $("stale-detail").textContent = m.reason; break; }
      // Otherwise (password changed, user disabled): back to the login form.
      $("login-error").textContent = m.reason;
      drop();
      me = null; creds = null;
      // A shared workstation: nothing of the last user's administration or flags stays.
      clearAdmin(); runaways.clear(); showRunaways();
      $("login").hidden = false; $("console").hidden = true; $("stale").hidden = true; $("mute").hidden = true;
      document.body.classList.remove("stale");
      break;
    case "snapshot": {
      const wasLive = live;
      showMode(m.emergency_mode);
      alarms.clear();
      for (const a of m.alarms) alarms.set(a.id, a);
      setLive(true);
      // Live again after (re)connecting: the figures too (not on every resync).
      if (!wasLive && !$("figures").hidden) fetchSla();
      if (!wasLive && !$("admin").hidden) adminRefresh();
      if (selected !== null) askDetail(selected);
      render();
      break;
    }
    case "changes":
      for (const c of m.changes) {
        if (c.kind.change === "emergency_mode") showMode(c.kind.on);
        if (c.kind.change === "runaway") runaway(c);
      }
      for (const a of m.alarms) alarms.set(a.id, a);
      for (const id of m.gone) alarms.delete(id);
      if (m.alarms.some((a) => a.id === selected)) askDetail(selected);
      render();
      break;
    case "detail":
      if (m.alarm.id === selected) { detail = m; showDetail(); }
      break;
    case "pong": showDegraded(m); break;
    case "result": answer(t("done", { what: settle(m.id) })); break;
    case "report": report(m); break;
    case "admin": adminReply(m); break;
    case "refused": answer(t("refused", { what: settle(m.id), why: refusal(m.error) })); break;
    case "error":
      if (adminPending.has(m.id)) { adminFailed(m); break; }
      answer(`${m.id != null ? settle(m.id) : t("error")}: ${m.message}`);
      break;
  }
}

function settle(id) { const what = pending.get(id) ?? t("command"); pending.delete(id); return what; }

function refusal(e) {
  switch (e.error) {
    case "already_claimed": case "not_owner": case "no_team": case "no_open_call":
      return t(e.error, e);
    case "invalid_transition": return t(e.error, { action: e.action, state: tv("state", e.state) });
    case "forbidden": return t(e.error, { role: tv("role", e.role), action: e.action });
    default: return e.error;
  }
}

function render() {
  // Not live: the queue stays as it was last seen, under the banner; its clocks do not tick on
  // as if it were current.
  if (!live && me) return;
  const now = Date.now() / 1000;
  const sorted = [...alarms.values()].sort((a, b) => a.priority - b.priority || a.opened_at - b.opened_at || a.id - b.id);
  const body = document.querySelector("#queue tbody");
  body.replaceChildren(...sorted.map((a) => {
    const tr = document.createElement("tr");
    const waited = Math.max(0, Math.round(now - a.opened_at));
    tr.className = `p${a.priority}` + (waited > 60 && a.state === "queued" ? " old" : "") + (a.id === selected ? " selected" : "");
    tr.tabIndex = 0;
    tr.dataset.id = a.id;
    for (const v of [a.id, a.priority, a.account, what(a), tv("state", a.state), a.owner ?? "", a.team ?? "", `${waited} s`, a.repeats]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    tr.lastChild.previousSibling.className = "age";
    // Under the account: its call type, or that it is not one of the centre's accounts.
    const small = document.createElement("small");
    small.className = a.unknown_account ? "unknown" : "call-type";
    small.textContent = a.unknown_account ? t("unknown account") : tv("ct", a.call_type);
    tr.children[2].append(document.createElement("br"), small);
    if (runaways.has(a.account)) {
      const flag = document.createElement("small");
      flag.className = "runaway"; flag.textContent = t("runaway badge");
      tr.children[2].append(flag);
    }
    tr.onclick = tr.onkeydown = (ev) => { if (ev.type === "click" || ev.key === "Enter") select(a.id); };
    return tr;
  }));
  showDetail();
  attention();
}

// Attention: while a priority-1 or -2 alarm waits unclaimed, the header says so, the tab's
// title counts them, and (unless muted) a tone sounds and a desktop notification is shown when
// one arrives and again every 10 s while any still waits.
let audio = null, muted = false, lastAlert = 0, urgentSeen = new Set();
function attention() {
  const urgent = [...alarms.values()].filter((a) => a.state === "queued" && a.priority <= 2);
  const el = $("attention");
  el.hidden = !live || urgent.length === 0;
  el.textContent = t(urgent.length === 1 ? "urgent one" : "urgent many", { n: urgent.length });
  document.title = urgent.length && live ? `(${urgent.length}) ALARM — Vagt` : t("title");
  const fresh = urgent.filter((a) => !urgentSeen.has(a.id));
  urgentSeen = new Set(urgent.map((a) => a.id));
  const due = urgent.length && Date.now() - lastAlert >= 10_000;
  if (!live || muted || !(fresh.length || due)) return;
  lastAlert = Date.now();
  if (tone()) el.dataset.sounded = String(Number(el.dataset.sounded ?? 0) + 1);
  if (fresh.length && "Notification" in window && Notification.permission === "granted") {
    new Notification(t("notify title"), { body: t("notify body", { what: what(fresh[0]), account: fresh[0].account }), tag: "vagt-urgent" });
  }
}
// A 0.4 s tone; whether it could be played.
function tone() {
  if (!audio || audio.state !== "running") return false;
  const osc = audio.createOscillator(), gain = audio.createGain();
  osc.frequency.value = 880; gain.gain.value = 0.2;
  osc.connect(gain).connect(audio.destination);
  osc.start(); osc.stop(audio.currentTime + 0.4);
  return true;
}
// Sound and notifications need a user gesture: set up on the login click.
function prepareAttention() {
  try { audio ??= new AudioContext(); audio.resume(); } catch { audio = null; }
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
}
$("mute").onclick = () => {
  muted = !muted;
  $("mute").textContent = t(muted ? "sound off" : "sound on");
  $("mute").setAttribute("aria-pressed", String(muted));
};

function select(id) { selected = id; detail = null; askDetail(id); render(); }
function askDetail(id) { if (ws && live) ws.send(JSON.stringify({ type: "detail", id: nextId++, alarm: id })); }

// The event as an operator reads it: the code table's name, with the code (an unknown code
// stays a code, and is still an alarm).
function what(a) {
  const name = (lang === "da" && EVENT_DA[a.code]) || a.name;
  return name ? `${name} (${a.code})` : a.code;
}

// What this user may do with alarm `a` now (the core decides; this only hides what it would
// refuse): operators and supervisors claim a queued alarm, and release, forward or close the
// one they own; responders accept, arrive and close their team's visits; auditors and admins
// give no commands.
function allowed(cmd, a) {
  const role = me?.role, op = role === "operator" || role === "supervisor";
  const mine = a.owner === me?.user, open = !["closed", "cancelled"].includes(a.state);
  const responder = role === "responder";
  switch (cmd) {
    case "claim": return op && a.state === "queued";
    case "release": case "forward": return op && mine && a.state === "claimed";
    case "classify": return op && open;
    case "close": return (op && mine && a.state === "claimed") || ((op || responder) && a.state === "on_site");
    case "accept": return (op || responder) && a.state === "forwarded";
    case "arrive": return (op || responder) && a.state === "accepted";
    case "note": return (op || responder) && open;
    case "callback": return op && open;
    case "reassign": return role === "supervisor" && a.state === "claimed";
    default: return false;
  }
}

function showActions(a) {
  for (const b of document.querySelectorAll("#actions button[data-cmd]")) b.hidden = !(a && allowed(b.dataset.cmd, a));
  const shown = (cmd) => !document.querySelector(`#actions button[data-cmd="${cmd}"]`).hidden;
  $("classification").hidden = !(shown("classify") || shown("close"));
  $("note").hidden = !shown("note");
  $("forward-team").hidden = !shown("forward");
  $("callback-outcome").hidden = !shown("callback");
  $("reassign-to").hidden = !shown("reassign");
}

// The teams an operator can forward to; the first choice is the alarm's own (the account's
// provider or home-nurse district, decided by the core).
function showTeams(teams) {
  const own = document.createElement("option");
  own.value = ""; own.textContent = t("own team");
  $("forward-team").replaceChildren(own, ...teams.map((t) => {
    const o = document.createElement("option"); o.value = t; o.textContent = t; return o;
  }));
}

function showDetail() {
  const a = alarms.get(selected);
  showActions(a);
  $("d-id").textContent = a ? a.id : "—";
  const dl = $("d-fields");
  dl.replaceChildren();
  if (!a) return;
  const now = Date.now() / 1000;
  const clock = (secs) => `${secs < 0 ? "-" : ""}${Math.floor(Math.abs(secs) / 60)}:${String(Math.floor(Math.abs(secs) % 60)).padStart(2, "0")}`;
  const deadline = a.armed && t("deadline value", { deadline: a.armed[0], left: clock(a.armed[1] - now), at: new Date(a.armed[1] * 1000).toLocaleTimeString() });
  const door = a.door && (a.door.until > now ? t("door value", { lock: a.door.lock, to: a.door.to, left: clock(a.door.until - now) }) : t("expired"));
  for (const [k, v] of [["account", a.account + (a.unknown_account ? ` — ${t("unknown account")}` : "")],
                        ["event", what(a)], ["category", a.kind], ["state", tv("state", a.state)], ["owner", a.owner], ["team", a.team],
                        ["waiting", clock(now - a.opened_at)],
                        ["since forward", a.forwarded_at ? clock(now - a.forwarded_at) : ""],
                        ["escalations", a.escalation_level],
                        ["deadline", deadline || ""],
                        ["door", door || ""],
                        ["notes", (a.notes || []).join(" · ")],
                        ...accountFields()]) {
    const dt = document.createElement("dt"); dt.textContent = t(k);
    const dd = document.createElement("dd"); dd.textContent = v ?? "";
    dl.append(dt, dd);
  }
  showCitizen();
}

// The citizen from the register (the server records every such view): name, address, phone
// numbers as tel: links for the call back, contacts, language, care notes.
function showCitizen() {
  const c = detail && detail.alarm.id === selected ? detail.citizen : null;
  $("d-citizen").hidden = !c;
  if (!c) return;
  $("c-name").textContent = c.name;
  $("c-address").textContent = c.address;
  $("c-phones").replaceChildren(...c.phones.flatMap((p, i) => {
    const a = document.createElement("a");
    a.href = `tel:${p.replace(/[^+0-9]/g, "")}`; a.textContent = p; a.className = "tel";
    return i ? [document.createTextNode(" · "), a] : [a];
  }));
  $("c-contacts").textContent = c.contacts.join(" · ");
  $("c-language").textContent = c.language;
  $("c-notes").textContent = c.care_notes;
  $("c-keybox").textContent = c.key_box;
}

// The account's citizen and services and the alarm's history, from the last `detail`.
function accountFields() {
  if (!detail || detail.alarm.id !== selected) return [];
  const acc = detail.account ?? {};
  const time = (s) => new Date(s * 1000).toLocaleTimeString();
  const what = (c) => {
    const k = c.kind, extra = k.code ?? k.classification ?? k.team ?? k.text ?? k.to ?? "";
    return `${time(c.at)} ${tv("change", k.change)}${extra ? " " + extra : ""} (${c.actor.name})`;
  };
  return [["citizen ref", acc.citizen], ["call type", tv("ct", acc.call_type)], ["provider", acc.provider ?? acc.district],
          ["municipality", acc.municipality], ["history", detail.history.map(what).join("\n")]];
}

function command(c) {
  const about = c.alarm != null ? " A" + c.alarm : c.account != null ? ` ${c.account} ${c.kind}` : "";
  const what = `${c.command.replace("_", " ")}${about}`;
  if (!ws || !live) { answer(t("not sent", { what })); return; }
  const id = nextId++;
  pending.set(id, what);
  answer(t("sent", { what }));
  ws.send(JSON.stringify({ type: "command", id, command: c }));
}

// Supervisor view and reports: the server computes them from the journal.
const reportNames = new Map();
function askReport(request, name) {
  if (!ws || !live) return;
  const id = nextId++;
  reportNames.set(id, name);
  ws.send(JSON.stringify({ type: "report", id, request }));
}
function fetchSla() { askReport({ format: "summary" }, null); }
function thisMonth() { const d = new Date(); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`; }
const pct = (x) => `${(x * 100).toFixed(1)} %`;

function report(m) {
  const name = reportNames.get(m.id);
  reportNames.delete(m.id);
  if (m.format !== "summary") {
    const type = { html: "text/html", csv: "text/csv", json: "application/json" }[m.format];
    const link = $("report-link");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([m.body], { type: `${type};charset=utf-8` }));
    link.download = name;
    link.textContent = t("download", { name });
    link.hidden = false;
    return;
  }
  const s = JSON.parse(m.body);
  $("sla-month").textContent = s.month + (s.municipality ? ` · ${s.municipality}` : "");
  $("sla-calls").textContent = s.calls;
  $("sla-citizens").textContent = s.citizens;
  $("sla-exceptions").textContent = s.exceptions.length;
  $("sla").querySelector("tbody").replaceChildren(...Object.entries(s.sla).map(([shift, f]) => {
    const tr = document.createElement("tr");
    tr.dataset.shift = shift;
    // Calls still unclaimed and within a target are pending for it: neither met nor missed yet.
    const share = (x, ok, pending) => (f.calls > pending ? [pct(x), ok] : [f.calls ? t("pending") : "—"]);
    const calls = f.pending_60s ? t("pending n", { calls: f.calls, n: f.pending_60s }) : f.calls;
    const met = f.target_60s_met && f.target_180s_met;
    const verdict = f.calls && f.calls === f.pending_60s ? [t("pending")] : [t(met ? "met" : "missed"), met];
    const cells = [[tv("shift", shift)], [calls], share(f.share_within_60s, f.target_60s_met, f.pending_60s),
                   share(f.share_within_180s, f.target_180s_met, f.pending_180s), verdict,
                   [f.visits], [f.visits ? pct(f.share_on_site_in_time) : "—"]];
    for (const [v, ok] of cells) {
      const td = document.createElement("td"); td.textContent = v;
      if (ok !== undefined) td.className = ok ? "met" : "miss";
      tr.append(td);
    }
    return tr;
  }));
  $("top-callers").replaceChildren(...s.top_callers.map((c) => {
    const li = document.createElement("li");
    li.textContent = t("top caller", { citizen: c.citizen, calls: c.calls, previous: c.previous_month });
    return li;
  }));
}

// Administration (admins): the users and the citizen register. The server journals every
// change before it takes effect, and every look at the register (its list, a record).
const adminPending = new Map(); // request id → what was asked (null: a refresh)
const adminDone = new Map(); // request id → what to do when it succeeded
let citizenShown = null; // the record as opened (a change is sent with it: the server checks it)
let users = [], citizens = [];
function adminAsk(request, what, onDone) {
  if (!ws || !live) { $("admin-answer").textContent = t("not sent", { what: what ?? "" }); return; }
  const id = nextId++;
  adminPending.set(id, what);
  if (onDone) adminDone.set(id, onDone);
  if (what) $("admin-answer").textContent = t("sent", { what });
  ws.send(JSON.stringify({ type: "admin", id, request }));
}
function clearAdmin() {
  users = []; citizens = []; accountList = []; accountShown = null;
  fillCitizen(null); fillUser(null); fillAccount(null);
  showUsers(); showCitizens(); showAccounts();
  $("admin-answer").textContent = "";
}
function adminRefresh() {
  adminAsk({ action: "users" }, null); adminAsk({ action: "citizens" }, null); adminAsk({ action: "accounts" }, null);
}
function adminReply(m) {
  const what = adminPending.get(m.id);
  adminPending.delete(m.id);
  if (what) $("admin-answer").textContent = m.done ?? t("done", { what });
  adminDone.get(m.id)?.();
  adminDone.delete(m.id);
  const r = m.reply;
  if (r.result === "users") { users = r.users; showUsers(); }
  if (r.result === "citizens") {
    citizens = r.citizens;
    $("reg-version").textContent = r.version ? t("version", { v: r.version }) : "";
    showCitizens();
  }
  if (r.result === "citizen") fillCitizen(r.record);
  if (r.result === "accounts") { accountList = r.accounts; showAccounts(); }
}
function adminFailed(m) {
  const what = adminPending.get(m.id);
  adminPending.delete(m.id);
  adminDone.delete(m.id);
  $("admin-answer").textContent = t("refused", { what: what ?? t("admin"), why: m.message });
}
function button(text, onclick, cls) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.onclick = onclick; if (cls) b.className = cls;
  return b;
}
function showUsers() {
  $("users").querySelector("tbody").replaceChildren(...users.map((u) => {
    const tr = document.createElement("tr");
    tr.dataset.name = u.name;
    tr.className = u.disabled ? "disabled" : "";
    for (const v of [u.name, tv("role", u.role), u.team ?? "", u.municipality ?? "", t(u.disabled ? "status disabled" : "status enabled")]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    const td = document.createElement("td");
    const change = u.disabled ? "enable" : "disable";
    td.append(button(t("btn edit"), () => fillUser(u), "edit"),
              button(t(`btn ${change}`), () => adminAsk({ action: "set_disabled", name: u.name, disabled: !u.disabled }, t(change, { name: u.name })), "toggle"));
    tr.append(td);
    return tr;
  }));
}
function fillUser(u) {
  $("u-name").value = u?.name ?? ""; $("u-role").value = u?.role ?? "operator";
  $("u-team").value = u?.team ?? ""; $("u-municipality").value = u?.municipality ?? ""; $("u-password").value = "";
}
$("u-new").onclick = () => fillUser(null);
$("user-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = $("u-name").value.trim(), role = $("u-role").value, password = $("u-password").value;
  const team = $("u-team").value.trim() || null, municipality = $("u-municipality").value.trim() || null;
  if (!users.some((u) => u.name === name)) {
    adminAsk({ action: "add_user", name, role, team, municipality, password }, t("save user", { name }));
  } else {
    adminAsk({ action: "update_user", name, role, team, municipality }, t("save user", { name }));
    if (password) adminAsk({ action: "set_password", name, password }, t("set password", { name }));
  }
  $("u-password").value = "";
});
// The register's list (reference and name), filtered by the search box; a click opens the
// record in the form (a journaled view).
function showCitizens() {
  const q = $("cz-search").value.trim().toLowerCase();
  const shown = citizens.filter((c) => !q || c.citizen.toLowerCase().includes(q) || c.name.toLowerCase().includes(q));
  $("citizens").querySelector("tbody").replaceChildren(...shown.map((c) => {
    const tr = document.createElement("tr");
    tr.tabIndex = 0; tr.dataset.ref = c.citizen;
    for (const v of [c.citizen, c.name]) { const td = document.createElement("td"); td.textContent = v; tr.append(td); }
    tr.onclick = tr.onkeydown = (ev) => { if (ev.type === "click" || ev.key === "Enter") adminAsk({ action: "citizen", citizen: c.citizen }, null); };
    return tr;
  }));
}
$("cz-search").oninput = showCitizens;
const lines = (id) => $(id).value.split("\n").map((l) => l.trim()).filter(Boolean);
function fillCitizen(c) {
  citizenShown = c;
  $("cz-ref").value = c?.citizen ?? ""; $("cz-name").value = c?.name ?? ""; $("cz-address").value = c?.address ?? "";
  $("cz-phones").value = (c?.phones ?? []).join("\n"); $("cz-contacts").value = (c?.contacts ?? []).join("\n");
  $("cz-language").value = c?.language ?? ""; $("cz-notes").value = c?.care_notes ?? ""; $("cz-keybox").value = c?.key_box ?? "";
}
$("cz-new").onclick = () => fillCitizen(null);
$("cz-remove").onclick = () => {
  const ref = $("cz-ref").value.trim();
  if (ref) adminAsk({ action: "remove_citizen", citizen: ref }, t("remove citizen", { ref }));
};
$("citizen-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const record = {
    citizen: $("cz-ref").value.trim(), name: $("cz-name").value.trim(), address: $("cz-address").value.trim(),
    phones: lines("cz-phones"), contacts: lines("cz-contacts"), language: $("cz-language").value.trim(),
    care_notes: $("cz-notes").value.trim(), key_box: $("cz-keybox").value.trim(),
  };
  const expected = citizenShown && citizenShown.citizen === record.citizen ? citizenShown : null;
  adminAsk({ action: "put_citizen", record, expected }, t("save citizen", { ref: record.citizen }),
           () => { citizenShown = record; });
});

// The accounts (keys never come from the server: only whether there is one). A row fills the
// form; saving sends the row's other fields (windows, priorities) back as they were.
let accountList = [], accountShown = null;
const orNull = (id) => $(id).value.trim() || null;
function showAccounts() {
  const q = $("ac-search").value.trim().toLowerCase();
  const shown = accountList.filter((a) => !q || [a.account, a.citizen, a.provider, a.district, a.municipality]
    .some((v) => (v ?? "").toLowerCase().includes(q)));
  $("accounts").querySelector("tbody").replaceChildren(...shown.map((a) => {
    const tr = document.createElement("tr");
    tr.tabIndex = 0; tr.dataset.account = a.account;
    const where = [a.line && `L${a.line}`, a.receiver && `R${a.receiver}`].filter(Boolean).join(" ");
    for (const v of [a.account, where, a.citizen ?? "", tv("ct", a.call_type), a.provider ?? a.district ?? "",
                     a.municipality ?? "", t(a.encrypted ? "key yes" : "key no")]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    tr.onclick = tr.onkeydown = (ev) => { if (ev.type === "click" || ev.key === "Enter") fillAccount(a); };
    return tr;
  }));
}
$("ac-search").oninput = showAccounts;
function fillAccount(a) {
  accountShown = a;
  const v = (id, x) => { $(id).value = x ?? ""; };
  v("ac-account", a?.account); v("ac-line", a?.line); v("ac-receiver", a?.receiver); v("ac-citizen", a?.citizen);
  $("ac-call-type").value = a?.call_type ?? "nodkald";
  v("ac-provider", a?.provider); v("ac-district", a?.district); v("ac-municipality", a?.municipality);
  v("ac-supervision", a?.supervision_interval_secs); v("ac-lock", a?.door_lock); v("ac-backup", a?.backup_team); v("ac-key", "");
}
$("ac-new").onclick = () => fillAccount(null);
$("ac-remove").onclick = () => {
  const account = $("ac-account").value.trim();
  if (account) adminAsk({ action: "remove_account", account, line: orNull("ac-line"), receiver: orNull("ac-receiver") }, t("remove account", { account }));
};
$("account-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const { encrypted, ...kept } = accountShown ?? {};
  const supervision = $("ac-supervision").value;
  const record = {
    ...kept, account: $("ac-account").value.trim(), line: orNull("ac-line"), receiver: orNull("ac-receiver"),
    citizen: orNull("ac-citizen"), call_type: $("ac-call-type").value, provider: orNull("ac-provider"),
    district: orNull("ac-district"), municipality: orNull("ac-municipality"),
    supervision_interval_secs: supervision ? Number(supervision) : null, door_lock: orNull("ac-lock"), backup_team: orNull("ac-backup"),
  };
  const same = accountShown && accountShown.account === record.account && (accountShown.line ?? null) === record.line
    && (accountShown.receiver ?? null) === record.receiver;
  const key = $("ac-key").value || null;
  adminAsk({ action: "put_account", record, key, expected: same ? accountShown : null }, t("save account", { account: record.account }),
           () => { accountShown = { ...record, encrypted: !!key || (same && accountShown.encrypted) }; });
  $("ac-key").value = "";
});

$("sla-refresh").onclick = fetchSla;
setInterval(() => { if (!$("figures").hidden) fetchSla(); }, 30_000);
$("report-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const [format, table] = $("report-kind").value.split(":");
  const month = $("report-month").value;
  const request = { month, format, table: table ?? "calls", delimiter: $("report-semicolon").checked ? ";" : "," };
  askReport(request, `vagt-${month}${table ? "-" + table : ""}.${format}`);
});

document.querySelectorAll("#actions button").forEach((b) => b.addEventListener("click", () => {
  if (selected === null) { answer(t("select first")); return; }
  const cmd = b.dataset.cmd, alarm = selected, classification = $("classification").value;
  const c = { command: cmd, alarm };
  if (cmd === "classify" || cmd === "close") c.classification = classification;
  if (cmd === "forward") c.team = $("forward-team").value || null;
  if (cmd === "callback") c.text = $("callback-outcome").value;
  if (cmd === "reassign") c.to = $("reassign-to").value;
  if (cmd === "note") c.text = $("note").value;
  command(c);
}));
$("emergency-on").onclick = () => command({ command: "emergency_mode", on: true });
$("emergency-off").onclick = () => command({ command: "emergency_mode", on: false });
if (setupToken) {
  $("login-title").dataset.t = "setup title";
  $("login-title").hidden = false;
  $("password").autocomplete = "new-password";
}
$("login").addEventListener("submit", (ev) => { ev.preventDefault(); prepareAttention(); connect($("user").value, $("password").value); });
$("lang").onchange = () => { lang = $("lang").value; localStorage.setItem("vagt-lang", lang); applyLang(); };
applyLang();
setInterval(render, 1000);
