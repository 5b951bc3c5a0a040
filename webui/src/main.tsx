// Entry point: loads the styles, creates the controller and mounts the app.
import { render } from "preact";
import { ChatController } from "./chat/controller";
import { apply_theme, load_theme } from "./store/settings";
import { App } from "./ui/app";
import "./ui/styles.css";

apply_theme(load_theme());
const ctl = new ChatController();
render(<App ctl={ctl} />, document.getElementById("app")!);
void ctl.init();
