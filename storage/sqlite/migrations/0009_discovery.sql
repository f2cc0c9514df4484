CREATE TABLE `discovery_remediations` (
	`id` text PRIMARY KEY NOT NULL,
	`integration` text NOT NULL,
	`principal` text NOT NULL,
	`changes` text NOT NULL,
	`actor` text NOT NULL,
	`created_at` integer NOT NULL,
	`undo_until` integer NOT NULL,
	`undone_at` integer,
	`undone_by` text
);
--> statement-breakpoint
CREATE TABLE `discovery_samples` (
	`integration` text NOT NULL,
	`principal` text NOT NULL,
	`sampled_at` integer NOT NULL,
	`sessions` integer NOT NULL,
	PRIMARY KEY(`integration`, `principal`, `sampled_at`)
);
--> statement-breakpoint
CREATE TABLE `discovery_scans` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scanned_at` integer NOT NULL,
	`summary` text NOT NULL
);
