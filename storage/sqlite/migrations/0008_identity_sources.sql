CREATE TABLE `identity_groups` (
	`source` text NOT NULL,
	`source_id` text NOT NULL,
	`name` text NOT NULL,
	`members` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`source`, `source_id`)
);
--> statement-breakpoint
CREATE TABLE `identity_people` (
	`source` text NOT NULL,
	`source_id` text NOT NULL,
	`email` text NOT NULL,
	`login` text,
	`name` text,
	`manager` text,
	`active` integer NOT NULL,
	`deleted` integer DEFAULT false NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`source`, `source_id`)
);
--> statement-breakpoint
CREATE INDEX `identity_people_email` ON `identity_people` (`email`);--> statement-breakpoint
CREATE TABLE `identity_syncs` (
	`source` text PRIMARY KEY NOT NULL,
	`last_attempt_at` integer,
	`last_success_at` integer,
	`last_error` text,
	`held_at` integer,
	`held_message` text,
	`people` integer DEFAULT 0 NOT NULL,
	`groups` integer DEFAULT 0 NOT NULL
);
