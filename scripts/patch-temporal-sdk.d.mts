/** Types of scripts/patch-temporal-sdk.mjs (plain JavaScript: it runs at `npm ci`, before anything is compiled). */
export declare const PATCH_MARKER: string;
/** The directory of @temporalio/worker's compiled workflow sandbox, or null when it is not installed. */
export declare function sandboxDir(): string | null;
/** True when every file of the installed SDK carries the patch. */
export declare function isPatched(dir?: string | null): boolean;
