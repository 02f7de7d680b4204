import { test } from "node:test";
import assert from "node:assert/strict";
import {
  addressBytes,
  cidrMatch,
  parseCidr,
  parseForwardedEntry,
  realIp,
} from "../../src/proxy/real-ip.js";

void test("CIDR parsing and matching, IPv4 and IPv6", () => {
  const nets = ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1", "172.16.0.0/12"].map(
    parseCidr,
  );
  const table: Array<[string, boolean]> = [
    ["10.1.2.3", true],
    ["11.0.0.1", false],
    ["192.168.1.7", true],
    ["192.168.1.8", false],
    ["::ffff:10.9.9.9", true],
    ["2001:db8:1::5", true],
    ["2001:db9::5", false],
    ["::1", true],
    ["::2", false],
    ["172.31.255.255", true],
    ["172.32.0.0", false],
    ["", false],
    ["not-an-ip", false],
  ];
  for (const [ip, want] of table) assert.equal(cidrMatch(ip, nets), want, ip);
  assert.equal(cidrMatch("", [parseCidr("unix:")]), true);
  assert.equal(cidrMatch("1.2.3.4", [parseCidr("0.0.0.0/0")]), true);
  assert.equal(cidrMatch("::5", [parseCidr("::/0")]), true);
  assert.throws(() => parseCidr("10.0.0.0/33"), /invalid mask/);
  assert.throws(() => parseCidr("10.0.0"), /invalid address/);
  assert.deepEqual([...addressBytes("::ffff:1.2.3.4")!], [1, 2, 3, 4]);
  assert.deepEqual(
    [...addressBytes("1:2::3.4.5.6")!],
    [0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 5, 6],
  );
  // low bits of the network are masked off, as nginx does
  assert.equal(cidrMatch("10.0.0.1", [parseCidr("10.0.0.200/24")]), true);
});

void test("forwarded entries: ip, ip:port, [v6]:port", () => {
  assert.equal(parseForwardedEntry(" 1.2.3.4 "), "1.2.3.4");
  assert.equal(parseForwardedEntry("1.2.3.4:5678"), "1.2.3.4");
  assert.equal(parseForwardedEntry("[2001:db8::1]:443"), "2001:db8::1");
  assert.equal(parseForwardedEntry("2001:db8::1"), "2001:db8::1");
  assert.equal(parseForwardedEntry("unknown"), null);
});

void test("real_ip: untrusted peers are never overridden; X-Real-IP is one address", () => {
  const opts = { from: [parseCidr("10.0.0.0/8")], header: "X-Real-IP", recursive: false };
  assert.equal(realIp(opts, "8.8.8.8", ["1.2.3.4"]), "8.8.8.8");
  assert.equal(realIp(opts, "10.0.0.1", ["1.2.3.4"]), "1.2.3.4");
  assert.equal(realIp(opts, "10.0.0.1", ["garbage"]), "10.0.0.1");
  assert.equal(realIp(opts, "10.0.0.1", []), "10.0.0.1");
  assert.equal(realIp({ ...opts, from: [] }, "10.0.0.1", ["1.2.3.4"]), "10.0.0.1");
});

void test("real_ip X-Forwarded-For: last entry, or recursive walk over trusted hops", () => {
  const from = [parseCidr("10.0.0.0/8"), parseCidr("192.168.0.0/16")];
  const plain = { from, header: "X-Forwarded-For", recursive: false };
  const rec = { ...plain, recursive: true };
  const xff = ["203.0.113.5, 198.51.100.7, 192.168.0.2"];
  assert.equal(realIp(plain, "10.0.0.1", xff), "192.168.0.2");
  assert.equal(realIp(rec, "10.0.0.1", xff), "198.51.100.7");
  // every hop trusted: the leftmost
  assert.equal(realIp(rec, "10.0.0.1", ["10.1.1.1, 192.168.3.3"]), "10.1.1.1");
  // several header lines are one list
  assert.equal(realIp(rec, "10.0.0.1", ["203.0.113.5", "10.9.9.9"]), "203.0.113.5");
  // a malformed entry stops the walk at the last good address
  assert.equal(realIp(rec, "10.0.0.1", ["203.0.113.5, bogus, 10.2.2.2"]), "10.2.2.2");
  // a spoofed leftmost entry cannot win over the untrusted hop that appended after it
  assert.equal(realIp(rec, "10.0.0.1", ["127.0.0.1, 203.0.113.9, 10.0.0.3"]), "203.0.113.9");
  assert.equal(realIp(rec, "8.8.8.8", xff), "8.8.8.8");
});

void test("realIpOf reads every value of the header from the request", async () => {
  const { realIpOf } = await import("../../src/proxy/real-ip.js");
  const req = {
    connection: { family: "IPv4", remoteAddress: "10.0.0.1" },
    headers: [
      ["X-Forwarded-For", "203.0.113.5"],
      ["x-forwarded-for", "10.9.9.9"],
    ],
  } as unknown as Parameters<typeof realIpOf>[1];
  assert.equal(
    realIpOf({ from: [parseCidr("10.0.0.0/8")], header: "X-Forwarded-For", recursive: true }, req),
    "203.0.113.5",
  );
  const unixReq = {
    connection: { family: "unix", remoteAddress: "" },
    headers: [["X-Real-IP", "1.2.3.4"]],
  } as unknown as Parameters<typeof realIpOf>[1];
  assert.equal(
    realIpOf({ from: [parseCidr("unix:")], header: "X-Real-IP", recursive: false }, unixReq),
    "1.2.3.4",
  );
  assert.equal(
    realIpOf({ from: [parseCidr("10.0.0.0/8")], header: "X-Real-IP", recursive: false }, unixReq),
    "",
  );
});
