/** The PostgreSQL store (placeholder until it lands: every call says so). */
import { TeamsError } from "../../errors.js";

export class PgStore {
  readonly kind = "postgres" as const;
  constructor(readonly opts: { url: string }) {
    throw new TeamsError("IO", "the PostgreSQL store is not built yet");
  }
}
