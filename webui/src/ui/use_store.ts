// A hook that re-renders a component whenever the controller's state changes.
import { useEffect, useState } from "preact/hooks";
import type { AppState, ChatController } from "../chat/controller";

export function use_store(ctl: ChatController): AppState {
  const [state, set_state] = useState(ctl.state);
  useEffect(() => ctl.subscribe(set_state), [ctl]);
  return state;
}
