import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8 } from "./hex";

export const sha256Bytes = (data: Uint8Array | string): Uint8Array =>
  sha256(typeof data === "string" ? utf8(data) : data);

/** Lowercase hex SHA-256 of a string's UTF-8 bytes or of raw bytes. */
export const sha256Hex = (data: Uint8Array | string): string => bytesToHex(sha256Bytes(data));

export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
