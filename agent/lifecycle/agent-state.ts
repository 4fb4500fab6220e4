/**
 * Explicit lifecycle of the agent process: INITIALIZED → RUNNING → STOPPING →
 * STOPPED, or FAILED from any state. Transitions are checked so a second
 * SIGTERM during shutdown, or a start after stop, is a visible no-op rather
 * than a double close.
 */
export type AgentState = 'INITIALIZED' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'FAILED';

const ALLOWED: Readonly<Record<AgentState, readonly AgentState[]>> = {
  INITIALIZED: ['RUNNING', 'STOPPING', 'FAILED'],
  RUNNING: ['STOPPING', 'FAILED'],
  STOPPING: ['STOPPED', 'FAILED'],
  STOPPED: [],
  FAILED: [],
};

/** Holds the current state and refuses transitions the diagram does not have. */
export class AgentStateMachine {
  private current: AgentState = 'INITIALIZED';

  get state(): AgentState {
    return this.current;
  }

  /** Moves to `next`; returns false (and stays) when that transition is not allowed. */
  transition(next: AgentState): boolean {
    if (!ALLOWED[this.current].includes(next)) return false;
    this.current = next;
    return true;
  }
}
