CREATE TABLE `audit_events` (
	`seq` integer PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`type` text NOT NULL,
	`request_id` text,
	`actor` text NOT NULL,
	`data` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_at` ON `audit_events` (`at`);--> statement-breakpoint
CREATE INDEX `audit_request` ON `audit_events` (`request_id`);--> statement-breakpoint
CREATE TABLE `chat_messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text NOT NULL,
	`platform` text NOT NULL,
	`channel` text NOT NULL,
	`message_id` text NOT NULL,
	`recipient` text,
	`purpose` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `chat_messages_request` ON `chat_messages` (`request_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `chat_messages_unique` ON `chat_messages` (`platform`,`channel`,`message_id`);--> statement-breakpoint
CREATE TABLE `decisions` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`step` integer NOT NULL,
	`approver` text NOT NULL,
	`verdict` text NOT NULL,
	`comment` text,
	`at` integer NOT NULL,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `decisions_once` ON `decisions` (`request_id`,`step`,`approver`);--> statement-breakpoint
CREATE TABLE `grants` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`integration` text NOT NULL,
	`resource` text NOT NULL,
	`permission` text NOT NULL,
	`state` text NOT NULL,
	`principal` text,
	`granted_at` integer,
	`revoked_at` integer,
	`last_error` text,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `grants_request` ON `grants` (`request_id`);--> statement-breakpoint
CREATE INDEX `grants_state` ON `grants` (`state`);--> statement-breakpoint
CREATE TABLE `identities` (
	`platform` text NOT NULL,
	`platform_user_id` text NOT NULL,
	`email` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`platform`, `platform_user_id`)
);
--> statement-breakpoint
CREATE INDEX `identities_email` ON `identities` (`email`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`request_id` text,
	`payload` text DEFAULT '{}' NOT NULL,
	`run_at` integer NOT NULL,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`claimed_by` text,
	`lease_until` integer,
	`last_error` text,
	`dedupe_key` text,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `jobs_due` ON `jobs` (`state`,`run_at`);--> statement-breakpoint
CREATE INDEX `jobs_request` ON `jobs` (`request_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_dedupe` ON `jobs` (`dedupe_key`) WHERE "jobs"."dedupe_key" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `requests` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`parent_id` text,
	`flow` text NOT NULL,
	`bundle` text,
	`requester` text NOT NULL,
	`grantee` text NOT NULL,
	`reason` text,
	`duration_ms` integer NOT NULL,
	`state` text NOT NULL,
	`version` integer NOT NULL,
	`step` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`timeout_at` integer,
	`decided_at` integer,
	`decided_by` text,
	`expires_at` integer,
	`ended_at` integer,
	`ended_by` text,
	`outcome` text
);
--> statement-breakpoint
CREATE INDEX `requests_state` ON `requests` (`state`);--> statement-breakpoint
CREATE INDEX `requests_requester` ON `requests` (`requester`);--> statement-breakpoint
CREATE INDEX `requests_grantee` ON `requests` (`grantee`);--> statement-breakpoint
CREATE INDEX `requests_parent` ON `requests` (`parent_id`);