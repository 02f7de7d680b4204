/** The shape of test/fixtures/protocol/vectors.json, shared by its generator and its readers. */
import type { FrameType } from "../../src/protocol/index.js";

export interface Vector {
  name: string;
  type: keyof typeof FrameType;
  id: number;
  fields: Record<string, unknown>;
  hex: string;
}

export interface BadVector {
  name: string;
  /** Which side's decoder reads it. */
  from: "node" | "worker";
  /** "frame": the FrameDecoder rejects it; "payload": the typed payload decoder does. */
  stage: "frame" | "payload";
  fault: string;
  hex: string;
}
