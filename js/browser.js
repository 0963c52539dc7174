// brook for browsers and bundlers: the wasm loads on the first Log.open (no top-level await,
// so importing brook costs nothing until it is used). There are no files here.

import init, * as core from "../pkg/brook_core.js";
import { createApi } from "./brook.js";

export const { Log, BrookError } = createApi({ core, initialize: () => init() });
