// The demo page: opens the log, makes sure the inventory topic exists, and wires the parts.
// Every part talks to brook through its public API only; what brook does is drawn by reading
// it back (offsets, assignments, lag), never by keeping a second copy of the log's state.

import { Durability } from "./durability.js";
import { Group, GroupCard } from "./groups.js";
import { KafkaSide } from "./kafka.js";
import { Lanes } from "./lanes.js";
import { Producers } from "./producer.js";
import { deleteLog, LockedError, openLog, DATABASE } from "./storage.js";
import { Story, STORY_GROUP, STORY_TOPIC } from "./story.js";
import { Timeline } from "./timeline.js";
import { frameScheduler, literal, logCall, startApiLog, text } from "./util.js";

/** The two groups of the seed article, each keeping its own copy of the inventory. */
const GROUPS = [
  { id: "mysql", members: 2, speed: 3, note: "keeps a MySQL table of the inventory" },
  { id: "elasticsearch", members: 1, speed: 1.5, note: "keeps a search index of the inventory" },
];
/** The group that draws the lanes: it reads every topic from the beginning and never
 * commits, so it leaves no trace in the log and re-reads everything after a reload. */
const LANES_GROUP = "brook-demo-lanes";
const REFRESH_MS = 200;

const $ = (selector) => document.querySelector(selector);

function showBanner(message, kind = "error") {
  const banner = $("#banner");
  banner.dataset.kind = kind;
  banner.textContent = message;
  banner.hidden = false;
}

/** An unexpected failure: said on the page and in the console (where tests look). */
function failed(error) {
  if (error?.code === "CLOSED" && resetting) return;
  showBanner(`Something went wrong: ${error?.message ?? error}`);
  console.error(error);
}

let resetting = false;

async function main() {
  startApiLog($("#api-log"));
  let opened;
  try {
    opened = await openLog();
  } catch (error) {
    if (!(error instanceof LockedError)) throw error;
    // Another tab has the log: say so, keep the controls off, and take over when it closes.
    const controls = [...document.querySelectorAll("#reset, main button, main input, main select")].filter((c) => !c.disabled);
    for (const control of controls) control.disabled = true;
    document.body.classList.add("unavailable");
    showBanner(error.message, "locked");
    $("#storage-status").textContent = "Waiting: the log is open in another tab.";
    opened = await error.wait;
    for (const control of controls) control.disabled = false;
    document.body.classList.remove("unavailable");
    $("#banner").hidden = true;
  }
  const { log, persistent, reason } = opened;
  $("#storage-status").textContent = persistent
    ? `Stored in IndexedDB ("${DATABASE}"): reload and it is all still here.`
    : "Kept in memory: a reload starts afresh.";
  $("#storage-status").dataset.persistent = String(persistent);
  if (!persistent) $("#storage-status").title = reason;

  if (!log.topics().some(({ topic }) => topic === STORY_TOPIC)) {
    await log.createTopic({ topic: STORY_TOPIC, partitions: 3 });
    logCall(`await log.createTopic(${literal({ topic: STORY_TOPIC, partitions: 3 })})`);
  }

  const groups = [];
  const cards = [];
  let story = null;
  const lanes = new Lanes($("#lanes"), $("#tooltip"), (topic, partition, offset) =>
    describeRecord(groups, story, topic, partition, offset),
  );
  const timeline = new Timeline($("#timeline-rows"));
  timeline.row(STORY_GROUP, STORY_GROUP, "the inventory story's consumer");
  for (const { id, note } of GROUPS) timeline.row(id, id, note);

  // The lanes are drawn by a consumer too: everything in the log, as it arrives.
  const viewer = log.consumer({ groupId: LANES_GROUP, autoCommit: false, fromBeginning: true });
  const topics = () => log.topics().map(({ topic }) => topic);
  for (const { topic, partitions } of log.topics()) lanes.ensureTopic(topic, partitions);
  await viewer.subscribe({ topics: topics(), fromBeginning: true });
  await viewer.run({
    eachBatch: ({ batch: { topic, partition, messages } }) => {
      lanes.add(
        topic,
        partition,
        messages.map((m) => ({ offset: m.offset, timestamp: m.timestamp, key: text(m.key), value: text(m.value) })),
      );
    },
    onError: failed,
  });
  logCall(`log.consumer(${literal({ groupId: LANES_GROUP, autoCommit: false, fromBeginning: true })})  // draws these lanes`);

  const draw = frameScheduler(() => render(log, lanes, groups, cards, story));
  for (const { id, members, speed } of GROUPS) {
    const group = new Group(log, {
      id,
      topics: [STORY_TOPIC],
      rateFor: () => group.rate,
      onConsumed: ({ member, record }) => {
        timeline.consumed(id, { record, member: member.name });
        card.consumed({ member, record });
      },
      onCrash: (crash) => {
        timeline.consumed(id, { record: crash.record, member: crash.member.name, crashed: true });
        card.crashed(crash);
        draw();
      },
      onChange: draw,
      onError: failed,
    });
    const card = new GroupCard(group, groupCardElement(id, speed), {
      onSpeed: (rate) => {
        group.rate = rate;
      },
    });
    groups.push(group);
    cards.push(card);
    // Members are per page (a page is a process); the group's commits are in the log.
    for (let i = 0; i < members; i++) await group.addMember();
  }

  const producers = new Producers({
    log,
    lanes,
    root: $("#produce"),
    onTopicCreated: async (topic) => {
      const created = log.topics().find((t) => t.topic === topic);
      lanes.ensureTopic(topic, created.partitions);
      await viewer.subscribe({ topics: [topic] });
      draw();
    },
    onError: failed,
  });

  new Durability({
    log,
    topic: STORY_TOPIC,
    root: $("#durability"),
    beforeCrash: () => producers.stopStream(),
    onError: failed,
  });

  new KafkaSide({ log, topic: STORY_TOPIC, root: $("#kafka"), onError: failed });

  story = new Story({
    log,
    lanes,
    timeline,
    root: $("#story"),
    onStart: () => producers.stopStream(),
    onChange: draw,
    onError: failed,
  });

  const refresh = () => {
    for (const group of [...groups, story.group]) group?.refresh();
    draw();
  };
  const timer = setInterval(() => {
    try {
      refresh();
    } catch (error) {
      clearInterval(timer);
      failed(error);
    }
  }, REFRESH_MS);
  refresh();

  wireReset(async () => {
    resetting = true;
    clearInterval(timer);
    producers.stopStream();
    await story.stop();
    await Promise.all(groups.map((group) => group.shutdown()));
    await viewer.disconnect();
    await deleteLog(log);
    location.reload();
  });
  document.body.dataset.ready = "true";
}

/** Redraws what moves: watermarks, owners, commits, lag, the members at work. */
function render(log, lanes, groups, cards, story) {
  if (resetting) return;
  const active = story?.group ? [...groups, story.group] : groups;
  for (const { topic, partitions } of log.topics()) {
    lanes.ensureTopic(topic, partitions);
    lanes.setWatermarks(topic, log.offsets(topic));
    lanes.setGroups(
      topic,
      active.map((group) => group.view(topic)),
    );
  }
  for (const card of cards) card.render();
}

/** The tooltip's lines about groups: has each processed this record yet? */
function describeRecord(groups, story, topic, partition, offset) {
  const lines = [];
  for (const group of story?.group ? [...groups, story.group] : groups) {
    const lag = group.lags.get(topic)?.find((l) => l.partition === partition);
    if (!lag) continue;
    const busy = group.members.find((m) => m.busy?.topic === topic && m.busy.partition === partition && m.busy.offset === offset);
    if (busy) lines.push(`${group.label}: ${busy.name} is processing it`);
    else if (lag.committed != null && offset < lag.committed) lines.push(`${group.label}: done (committed ${lag.committed})`);
    else lines.push(`${group.label}: not yet`);
  }
  return lines;
}

/** Reset asks twice: it deletes the whole log. */
function wireReset(reset) {
  const button = $("#reset");
  let armed = null;
  button.addEventListener("click", async () => {
    if (!armed) {
      button.textContent = "Click again to delete everything";
      button.classList.add("armed");
      armed = setTimeout(() => {
        armed = null;
        button.textContent = "Reset";
        button.classList.remove("armed");
      }, 5000);
      return;
    }
    clearTimeout(armed);
    button.disabled = true;
    button.textContent = "Resetting…";
    try {
      await reset();
    } catch (error) {
      resetting = false;
      button.disabled = false;
      button.textContent = "Reset";
      if (error instanceof LockedError) showBanner(error.message, "locked");
      else failed(error);
    }
  });
}

main().catch(failed);

/** Stamps the group card template for one group (both groups share one layout). */
function groupCardElement(id, speed) {
  const card = $("#group-card").content.firstElementChild.cloneNode(true);
  card.classList.add(`group-${id}`);
  card.dataset.group = id;
  card.setAttribute("aria-labelledby", `${id}-title`);
  card.querySelector("h3").id = `${id}-title`;
  card.querySelector(".group-name").textContent = id;
  card.querySelector(".speed").value = String(speed);
  for (const radio of card.querySelectorAll(".commit-mode input")) radio.name = `commit-${id}`;
  card.querySelector("caption").textContent = `Commits and lag of ${id}`;
  $(".group-cards").append(card);
  return card;
}
