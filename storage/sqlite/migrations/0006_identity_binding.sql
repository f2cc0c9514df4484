ALTER TABLE `identities` ADD `state` text DEFAULT 'bound' NOT NULL;--> statement-breakpoint
ALTER TABLE `identities` ADD `reported_email` text;--> statement-breakpoint
ALTER TABLE `identities` ADD `chat_id` text;--> statement-breakpoint
ALTER TABLE `identities` ADD `bound_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `identities` ADD `bound_by` text DEFAULT 'latch' NOT NULL;--> statement-breakpoint
ALTER TABLE `identities` ADD `checked_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Accounts Latch already knew stay bound to the e-mail it had for them, as of when it last saw them.
UPDATE `identities` SET `bound_at` = `updated_at`;--> statement-breakpoint
-- Teams accounts were keyed by their 29: id; it stays the id to address them by when they move to their AAD object id.
UPDATE `identities` SET `chat_id` = `platform_user_id` WHERE `platform` = 'teams';
