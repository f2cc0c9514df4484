CREATE TABLE `rds_discovery_listings` (
	`discovery` text NOT NULL,
	`region` text NOT NULL,
	`listed_at` integer,
	`instances` text,
	`problems` text NOT NULL,
	`offered` text NOT NULL,
	`retained` text NOT NULL,
	PRIMARY KEY(`discovery`, `region`)
);
