// Asks for the API key when the server answers 401, then the waiting request is retried.
import { useState } from "preact/hooks";
import type { ChatController } from "../chat/controller";
import { Modal } from "./modal";

export function KeyDialog({ ctl, open, had_key }: { ctl: ChatController; open: boolean; had_key: boolean }) {
  const [key, set_key] = useState("");
  const save = () => {
    if (!key.trim()) return;
    ctl.set_api_key(key.trim());
    set_key("");
  };
  return (
    <Modal open={open} label="API key" class_name="key-dialog" on_close={() => ctl.open_key_prompt(false)}>
      <h2>API key needed</h2>
      <p>
        {had_key
          ? "The server did not accept the saved API key. Enter the right one."
          : "This tandem server requires an API key. Enter it to continue; it is kept in this browser only."}
      </p>
      <label class="field">
        <span>API key</span>
        <input
          type="password"
          autocomplete="off"
          value={key}
          ref={(el) => el?.focus()}
          onInput={(e) => set_key(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") save();
          }}
        />
      </label>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={() => ctl.open_key_prompt(false)}>
          Cancel
        </button>
        <button type="button" class="btn primary" disabled={!key.trim()} onClick={save}>
          Save and retry
        </button>
      </div>
    </Modal>
  );
}
