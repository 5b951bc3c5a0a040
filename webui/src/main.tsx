// Entry point: loads the styles, creates the controller and mounts the app.
import { render } from "preact";
import { ChatController } from "./chat/controller";
import { App } from "./ui/app";
import "./ui/styles.css";

const ctl = new ChatController();
render(<App ctl={ctl} />, document.getElementById("app")!);
void ctl.init();
