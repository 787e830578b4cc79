import type { BinaryOutputCommand, LightCommand } from '#iqrf';
import type { ScenarioNode } from './scenario.ts';

/** Outputs a Binary Output answer reports (the standard's 32, false past the node's own). */
const BINARY_OUTPUTS = 32;
/** The share of a room's CO2 excess that stays while its ventilation runs long enough. */
const VENTILATED_EXCESS = 0.25;
/** How fast a running ventilation airs the room (time constant, ms): most of the effect in 15 minutes. */
const AIRING_MS = 5 * 60_000;
/** How fast the room's air goes stale again once it stops (time constant, ms). */
const STALING_MS = 20 * 60_000;

/** A power command of the Light standard: set the power, or step it up or down. */
export type LightOperation = 'set' | 'increment' | 'decrement';

interface Output {
  on: boolean;
  /** When `on` last changed, in ms since the epoch. */
  since: number;
  /** The room's remaining CO2 excess share at `since`. */
  excessAtSince: number;
  /** When a timed ON switches itself OFF. */
  offAt?: number;
}

interface Light {
  power: number;
  /** When a timed power level ends, and the power it goes back to. */
  revert?: { at: number; power: number };
}

/**
 * The actuators of every simulated node, as the IQRF standards' peripherals behave: binary outputs
 * (relays) that switch, ON for a time if told, and dimmable lights (power 0-100); each command
 * gives the previous state, as the daemon's answers do. State is computed from the time of each
 * command and of each reading, so a timed output switches back without a timer, and a clock that
 * the tests set moves it.
 */
export class ActuatorBank {
  private readonly outputs = new Map<string, Output[]>();
  private readonly lights = new Map<string, Light[]>();

  /**
   * Switches the node's outputs at `time` (ms); returns the previous state of all 32 outputs.
   * Commands for outputs the node lacks change nothing.
   */
  setOutputs(gatewayId: string, node: ScenarioNode, commands: BinaryOutputCommand[], time: number): boolean[] {
    const outputs = this.outputsOf(gatewayId, node, time);
    const previous = Array.from({ length: BINARY_OUTPUTS }, (_, i) => outputs[i]?.on ?? false);
    for (const { index, state, time: seconds } of commands) {
      const output = outputs[index];
      if (!output) continue;
      if (output.on !== state) switchOutput(output, state, time);
      // A new command replaces a pending timed OFF; a timed command sets its own (ON only: OFF is OFF).
      output.offAt = state && seconds ? time + seconds * 1000 : undefined;
    }
    return previous;
  }

  /** The node's outputs' states at `time` (ms), in index order. */
  outputStates(gatewayId: string, node: ScenarioNode, time: number): boolean[] {
    return this.outputsOf(gatewayId, node, time).map((output) => output.on);
  }

  /**
   * Applies a Light power command at `time` (ms); returns the previous power of each light named,
   * in ascending index (0 for a light the node lacks), as the standard answers.
   */
  setPower(gatewayId: string, node: ScenarioNode, operation: LightOperation, commands: LightCommand[], time: number): number[] {
    const lights = this.lightsOf(gatewayId, node, time);
    const sorted = [...commands].sort((a, b) => a.index - b.index);
    const previous = sorted.map(({ index }) => lights[index]?.power ?? 0);
    for (const { index, power, time: seconds } of sorted) {
      const light = lights[index];
      // 127 asks the power without changing it.
      if (!light || (operation === 'set' && power === 127)) continue;
      const before = light.power;
      const next = operation === 'set' ? power : operation === 'increment' ? before + power : before - power;
      light.power = Math.max(0, Math.min(100, next));
      light.revert = seconds ? { at: time + seconds * 1000, power: before } : undefined;
    }
    return previous;
  }

  /** The node's lights' power levels at `time` (ms), in index order. */
  lightPowers(gatewayId: string, node: ScenarioNode, time: number): number[] {
    return this.lightsOf(gatewayId, node, time).map((light) => light.power);
  }

  /**
   * The share of its room's CO2 excess that the node's ventilation relays leave at `time` (ms):
   * 1 for a room never aired; it falls over minutes while one runs and rises back after.
   */
  ventilation(gatewayId: string, node: ScenarioNode, time: number): number {
    if (!node.binaryOutputs?.some((output) => output.ventilates)) return 1;
    const outputs = this.outputsOf(gatewayId, node, time);
    let excess = 1;
    for (const [i, output] of outputs.entries()) if (node.binaryOutputs[i]?.ventilates) excess = Math.min(excess, excessAt(output, time));
    return excess;
  }

  /** Forgets a node's actuators (it was unbonded): a node bonded at its address starts afresh. */
  forget(gatewayId: string, address: number): void {
    this.outputs.delete(`${gatewayId}:${address}`);
    this.lights.delete(`${gatewayId}:${address}`);
  }

  private outputsOf(gatewayId: string, node: ScenarioNode, time: number): Output[] {
    const key = `${gatewayId}:${node.address}`;
    let outputs = this.outputs.get(key);
    if (!outputs) {
      outputs = (node.binaryOutputs ?? []).map(() => ({ on: false, since: 0, excessAtSince: 1 }));
      this.outputs.set(key, outputs);
    }
    for (const output of outputs) {
      if (output.offAt !== undefined && output.offAt <= time) {
        switchOutput(output, false, output.offAt);
        output.offAt = undefined;
      }
    }
    return outputs;
  }

  private lightsOf(gatewayId: string, node: ScenarioNode, time: number): Light[] {
    const key = `${gatewayId}:${node.address}`;
    let lights = this.lights.get(key);
    if (!lights) {
      lights = (node.lights ?? []).map(() => ({ power: 0 }));
      this.lights.set(key, lights);
    }
    for (const light of lights) {
      if (light.revert && light.revert.at <= time) {
        light.power = light.revert.power;
        light.revert = undefined;
      }
    }
    return lights;
  }
}

function switchOutput(output: Output, on: boolean, time: number): void {
  output.excessAtSince = excessAt(output, time);
  output.on = on;
  output.since = time;
}

// The excess decays towards its target exponentially, as a room's air is exchanged.
function excessAt(output: Output, time: number): number {
  const [target, tau] = output.on ? [VENTILATED_EXCESS, AIRING_MS] : [1, STALING_MS];
  return target + (output.excessAtSince - target) * Math.exp(-Math.max(0, time - output.since) / tau);
}
