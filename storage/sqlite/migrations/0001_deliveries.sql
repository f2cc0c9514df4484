CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deliveries_at` ON `deliveries` (`at`);