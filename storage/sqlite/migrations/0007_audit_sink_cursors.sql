CREATE TABLE `audit_sink_cursors` (
	`sink` text PRIMARY KEY NOT NULL,
	`delivered_seq` integer NOT NULL,
	`delivered_at` integer,
	`created_at` integer NOT NULL,
	`owner` text,
	`lease_until` integer
);
